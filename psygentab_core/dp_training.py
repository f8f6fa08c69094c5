"""DP-SGD for the generator, through Opacus, and the ledger of a DP run.

Opacus supplies every privacy-relevant piece: per-row gradients (``GradSampleModule``), clipping
and Gaussian noise (``DPOptimizer``), Poisson batches (``UniformWithReplacementSampler``) and the
accountant (:class:`psygentab_core.dp.SgdAccountant`, attached as the optimizer's step hook).
This module only adapts the generator to them:

* The objective is the ELBO alone, a sum of per-row terms. The kernel two-sample (MMD) term and
  the privacy constraints' surrogates compare rows of a batch with each other and with other
  training rows, so one row's influence would reach other rows' gradients and clipping would
  no longer bound it: DP mode leaves them out.
* Opacus computes per-row gradients layer by layer. The network is made of ``nn.Linear`` layers,
  which it supports; the output scales (``log_sigma``), a bare parameter of the model, get a
  small module of their own with a registered per-row gradient (:class:`SigmaHead`); the privacy
  knobs are frozen at their starting value (≈ 1), as the constraints that move them are off.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from opacus import GradSampleModule
from opacus.grad_sample import register_grad_sampler
from opacus.optimizers import DPOptimizer
from opacus.utils.uniform_sampler import UniformWithReplacementSampler
from torch import nn

from psygentab_core.dp import (
    Coverage,
    DpConfig,
    DpSgdPlan,
    LedgerEntry,
    PrivacyLedger,
    SgdAccountant,
)
from psygentab_core.dp_encoding import DpPreprocessing
from psygentab_core.model import ConditionalVAE, sigma_of


class SigmaHead(nn.Module):
    """The log output scales, repeated once per row, so that each row's gradient is its own."""

    def __init__(self, log_sigma: nn.Parameter) -> None:
        super().__init__()
        self.log_sigma = log_sigma

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """``log_sigma`` for every row of ``rows`` (only their number is read)."""
        return self.log_sigma.expand(rows.shape[0], -1)


@register_grad_sampler(SigmaHead)
def sigma_grad_sample(
    layer: SigmaHead, activations: list[torch.Tensor], backprops: torch.Tensor
) -> dict[nn.Parameter, torch.Tensor]:
    """Per-row gradients of ``log_sigma``: row i's output is ``log_sigma`` itself, so row i's
    gradient is the gradient arriving at its output row."""
    del activations  # the output does not depend on the input's values
    return {layer.log_sigma: backprops} if layer.log_sigma.requires_grad else {}


class ElboModule(nn.Module):
    """The per-row negative ELBO of a generator, as a module whose parameters are exactly what
    DP-SGD trains: the network and the output scales (shared with the generator)."""

    def __init__(self, model: ConditionalVAE, *, kl_weight: float) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.to_mean = model.to_mean
        self.to_log_var = model.to_log_var
        self.decoder = model.decoder
        self.to_output = model.to_output
        self.sigma_head = SigmaHead(model.log_sigma)
        # In a list, so that the generator (and its frozen knobs) is not a submodule.
        self._model = [model]
        self.kl_weight = kl_weight

    def forward(
        self, features: torch.Tensor, condition: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """The loss of each row (the generator's ELBO with per-row output scales)."""
        sigma = sigma_of(self.sigma_head(features))
        return self._model[0].loss(
            features, condition, kl_weight=self.kl_weight, noise=noise, sigma=sigma
        )


class DpSgd:
    """One generator trained with DP-SGD by Opacus; :meth:`close` removes Opacus's hooks."""

    def __init__(
        self,
        model: ConditionalVAE,
        plan: DpSgdPlan,
        *,
        learning_rate: float,
        kl_weight: float,
        generator: torch.Generator,
        on_step: Callable[[Any], None],
    ) -> None:
        self.plan = plan
        self.generator = generator
        model.privacy_knobs.requires_grad_(False)
        if model.log_sigma.numel() == 0:
            model.log_sigma.requires_grad_(False)  # no numeric column: nothing to learn
        self.module = GradSampleModule(ElboModule(model, kl_weight=kl_weight))
        trainable = [p for p in self.module.parameters() if p.requires_grad]
        self.optimizer = DPOptimizer(
            torch.optim.Adam(trainable, lr=learning_rate),
            noise_multiplier=plan.noise_multiplier,
            max_grad_norm=plan.max_grad_norm,
            expected_batch_size=plan.expected_batch_size,
            generator=generator,
        )
        self.optimizer.attach_step_hook(on_step)

    def batches(self, steps: int) -> Iterator[list[int]]:
        """``steps`` Poisson batches: each row joins each batch with probability q."""
        return iter(
            UniformWithReplacementSampler(
                num_samples=self.plan.rows,
                sample_rate=self.plan.sample_rate,
                generator=self.generator,
                steps=steps,
            )
        )

    def step(self, features: torch.Tensor, condition: torch.Tensor, noise: torch.Tensor) -> float:
        """One noisy step on a batch; returns its mean loss (0 for an empty batch, which still
        gets its noise: skipping it would tell which batches were empty)."""
        self.optimizer.zero_grad(set_to_none=True)
        per_row = self.module(features, condition, noise)
        loss = per_row.sum() / max(features.shape[0], 1)
        with warnings.catch_warnings():
            # Opacus's backward hooks sit on layers whose input is the data, which never needs
            # a gradient; PyTorch warns about that case, which is exactly the intended one.
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def close(self) -> None:
        """Remove Opacus's hooks from the generator's layers."""
        self.module._close()


def steps_per_epoch(rows: int, batch_size: int) -> int:
    """One expected pass over the training rows: ⌈n / batch size⌉ Poisson batches."""
    return max(1, math.ceil(rows / max(1, min(batch_size, rows))))


# ---------------------------------------------------------------------------------------------
# The ledger of a run


def run_ledger(
    preprocessing: DpPreprocessing,
    accountant: SgdAccountant | None,
    *,
    dp: DpConfig,
    seed: int,
    parts: dict[str, int],
    constraint_labels: tuple[str, ...],
    mmd_weight: float,
) -> PrivacyLedger:
    """Every read of the real rows in a DP run so far, in the order they happen.

    ``parts`` gives the sizes of the split (members, reference, holdout); ``accountant`` is
    None before DP-SGD has started.
    """
    budget = preprocessing.budget
    entries = [
        LedgerEntry(
            step="schema",
            reads="all rows (column names; kinds and date formats inferred from the values or "
            "set by the user)",
            coverage=Coverage.PUBLIC,
            mechanism="column names, kinds, date formats and declared levels are treated as "
            "public metadata (the dashboard shows them for review; the command line infers "
            "them from the table and takes them as public)",
            released="column names and kinds",
        ),
        LedgerEntry(
            step="validation",
            reads="all rows",
            coverage=Coverage.AUDIT,
            mechanism="checks that every value fits the schema; its only output is whether the "
            "run starts (or an error message to the user)",
        ),
        LedgerEntry(
            step="split",
            reads="the number of rows only",
            coverage=Coverage.PUBLIC,
            mechanism=f"uniformly random split (not stratified), seed {seed}: which rows train "
            "depends on the row count and the seed, never on a value",
            released="which rows train (kept in the run folder, never released)",
        ),
        LedgerEntry(
            step="row count",
            reads=f"the number of training rows (n = {parts['members']})",
            coverage=Coverage.PUBLIC,
            mechanism="n sets the sampling rate q = batch size / n and the default δ; it is "
            "treated as public, as Opacus's accounting assumes",
            released="n",
        ),
        *preprocessing.entries,
        _sgd_entry(accountant, budget.sgd_delta),
        LedgerEntry(
            step="fidelity proxy",
            reads="training rows (encoded)",
            coverage=Coverage.AUDIT,
            mechanism="each epoch's fidelity proxy compares generated rows with the training "
            "rows; it is shown to the data holder and never feeds back into training",
        ),
        LedgerEntry(
            step="release audit",
            reads="training and reference rows",
            coverage=Coverage.AUDIT,
            mechanism="the privacy constraints are measured on the released table and reported; "
            "nothing is filtered or retrained on them",
        ),
        LedgerEntry(
            step="holdout check",
            reads="training and holdout rows",
            coverage=Coverage.AUDIT,
            mechanism="share of released rows nearer the training rows than the holdout, "
            "reported in the run summary",
        ),
    ]
    disabled = [
        "The release filter (exact copies, too-close rows): it reads the training rows to reject "
        "synthetic rows, outside the mechanism; the release is the generator's sample as drawn.",
        "The privacy knobs stay at their starting value (≈ 1): the constraints that move them "
        "are off.",
    ]
    if constraint_labels:
        disabled.insert(
            0,
            "The privacy constraints of the Augmented Lagrangian ("
            + "; ".join(constraint_labels)
            + "): they read the training and reference rows outside the mechanism, so DP mode "
            "does not train on them; they are only measured on the release, as an audit.",
        )
    if mmd_weight > 0:
        disabled.append(
            "The kernel two-sample (MMD) term of the objective: it couples the rows of a batch, "
            "so clipping one row's gradient would not bound that row's influence."
        )
    caveats = [
        "The guarantee protects each training row; the reference and holdout rows are never "
        "read by any mechanism (they serve the audits).",
        "Model size, learning rate, epochs and the clipping bound were not tuned on these rows by "
        "this tool; tuning them on the same rows would cost privacy too.",
        "Noise comes from PyTorch's and NumPy's pseudo-random generators (as in Opacus without "
        "secure_mode): not cryptographically secure, and floating-point attacks on the noise "
        "samplers are not defended against.",
    ]
    if dp.reproducible:
        caveats.append(
            "Reproducible mode: the noise and the Poisson batches follow the run's seed, so "
            "anyone who knows the seed knows the noise; the guarantee holds only while the seed "
            "stays secret."
        )
    else:
        caveats.append(
            "The noise and the Poisson batches are seeded from operating-system entropy that is "
            "never stored: the run cannot be reproduced bit for bit."
        )
    return PrivacyLedger(
        target_epsilon=budget.epsilon,
        target_delta=budget.delta,
        entries=tuple(entries),
        disabled=tuple(disabled),
        caveats=tuple(caveats),
        plan=None if accountant is None else accountant.plan,
        steps_taken=0 if accountant is None else accountant.steps,
    )


def _sgd_entry(accountant: SgdAccountant | None, delta: float) -> LedgerEntry:
    if accountant is None or accountant.steps == 0:
        return LedgerEntry(
            step="DP-SGD",
            reads="training rows, every modelled column (encoded)",
            coverage=Coverage.CHARGED,
            mechanism="not started"
            if accountant is None
            else accountant.plan.describe() + " No step taken yet.",
            released="the generator's weights",
        )
    plan = accountant.plan
    return LedgerEntry(
        step="DP-SGD",
        reads="training rows, every modelled column (encoded)",
        coverage=Coverage.CHARGED,
        mechanism=f"{plan.describe()} Steps taken: {accountant.steps}.",
        epsilon=accountant.epsilon(),
        delta=delta,
        released="the generator's weights",
    )

"""The generator: a conditional variational autoencoder over the encoded table.

Why this model: on two CPU cores a small VAE trains in seconds where a GAN needs minutes and a
careful balance of two networks; conditioning on the target class lets us sample every class,
however rare, in exactly the share we choose; and its samples are a differentiable function of
the decoder's outputs (reparameterised Gaussians, relaxed Bernoulli flags and Gumbel-softmax
levels), so the privacy surrogates send gradients straight into the generator. Columns are drawn
in a few stages, each reading the columns drawn before it (:mod:`psygentab_core.dependencies`):
sharp pairwise structure that the latent code alone blurs, such as a clinic's nearly fixed order
set, survives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from psygentab_core.encoding import Span, SpanKind, span_columns
from psygentab_core.errors import ConfigError

_LOG_SIGMA_MIN = math.log(0.01)
MAX_SCORE = 5.0
# Logit of the padding cells of the level grid (see SpanLayout): exp(-1e4) is exactly 0.
_PAD_LOGIT = -1e4
# Widest encoding (numbers, flags and levels) whose columns are drawn in stages: the links are a
# dense width × width matrix, multiplied at every step by every stage (1024: about 0.3 GFLOP
# per product on a batch). Wider tables, many levels in few columns, are drawn at once.
MAX_DEPENDENCY_WIDTH = 1024
# Hidden width when not set (ModelConfig.hidden_width).
_HIDDEN = 128
_SMALL_TABLE_HIDDEN = 64
_SMALL_TABLE_ROWS = 768


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelConfig:
    """Size and loss weights of the generator."""

    latent_dim: int = 32
    # Units per hidden layer; None sizes them from the training rows (:meth:`hidden_width`).
    hidden_dim: int | None = None
    hidden_layers: int = 2
    kl_weight: float = 1.0
    # Weight of the kernel two-sample term that keeps rows generated from the prior close to the
    # data distribution (the ELBO alone only shapes the decoder where training rows are encoded).
    mmd_weight: float = 1.0
    # Temperature of the relaxed samples fed to the privacy surrogates.
    relaxation_temperature: float = 0.5
    # Columns are drawn in up to this many stages, each column's output depending directly on
    # the columns of earlier stages (psygentab_core.dependencies); 1 draws every column at once,
    # coupled only through the latent code.
    dependency_stages: int = 3

    def __post_init__(self) -> None:
        for name in ("latent_dim", "hidden_dim", "hidden_layers", "dependency_stages"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"model.{name} must be at least 1; got {value}.")
        if self.kl_weight <= 0:
            raise ConfigError(f"model.kl_weight must be > 0; got {self.kl_weight!r}.")
        if self.mmd_weight < 0:
            raise ConfigError(f"model.mmd_weight must be >= 0; got {self.mmd_weight!r}.")
        if self.relaxation_temperature <= 0:
            raise ConfigError("model.relaxation_temperature must be > 0.")

    def hidden_width(self, training_rows: int | None = None) -> int:
        """Units per hidden layer: ``hidden_dim``, or, when that is None, 64 for a table of
        fewer than 768 training rows (three batches) and 128 otherwise (or when not known).

        128 fits the bundled clinical tables as well as 256 did, at half the cost of a step.
        A small table needs fewer: births14 (550 training rows, five seeds) fitted as well with
        64 units (detection AUC 0.674 against 0.691, TSTR AUC of a gradient boosting 0.750
        against 0.760, closer-to-training shares alike) in a sixth less time per step, whereas
        NHEFS (896 rows) came closer to its training rows with 64 (0.576 and 0.562 against
        0.515) and AIDS2 (1,564 rows) lost TSTR AUC (0.841 to 0.833 in the benchmark).
        """
        if self.hidden_dim is not None:
            return self.hidden_dim
        if training_rows is not None and training_rows < _SMALL_TABLE_ROWS:
            return _SMALL_TABLE_HIDDEN
        return _HIDDEN

    def for_rows(self, training_rows: int) -> ModelConfig:
        """This configuration with the hidden width fixed for ``training_rows`` (what a saved
        generator records, so that it rebuilds at its trained size)."""
        return replace(self, hidden_dim=self.hidden_width(training_rows))


def _mlp(inputs: int, hidden: int, layers: int) -> nn.Sequential:
    modules: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*modules)


class SpanLayout:
    """Index tensors that let the heads treat all spans of one kind in a single operation."""

    def __init__(self, spans: tuple[Span, ...], width: int, blocked: tuple[int, ...] = ()) -> None:
        # Output slots never to be generated get -inf logits (levels seen only outside training).
        self.blocked = torch.zeros(width, dtype=torch.bool)
        self.blocked[list(blocked)] = True
        self.gaussian = torch.tensor(
            [s.start for s in spans if s.kind is SpanKind.GAUSSIAN], dtype=torch.long
        )
        self.flag = torch.tensor(
            [s.start for s in spans if s.kind is SpanKind.FLAG], dtype=torch.long
        )
        self.choices = tuple((s.start, s.stop) for s in spans if s.kind is SpanKind.CHOICE)
        self.is_gaussian = torch.zeros(width, dtype=torch.bool)
        self.is_gaussian[self.gaussian] = True
        # For each gaussian slot, the slot of its missing flag (or -1): the value of a missing
        # entry is not observed, so it must not count in the reconstruction loss.
        flag_of = {s.column: s.start for s in spans if s.kind is SpanKind.FLAG}
        self.gaussian_flag = torch.tensor(
            [flag_of.get(s.column, -1) for s in spans if s.kind is SpanKind.GAUSSIAN],
            dtype=torch.long,
        )
        # The level blocks as a few padded (rows, blocks, widest) grids: one softmax, argmax and
        # cross-entropy per grid instead of a handful of small operations per column, which
        # dominated a training step on tables with many categories. Blocks of similar width
        # share a grid (see group_blocks): a single grid padded every block to the widest, so
        # one 88-level column made the COVID-19 table's eight blocks 704 cells wide for 119
        # levels, and the padding's gather, scatter and noise took a fifth of a training step.
        widths = [stop - start for start, stop in self.choices]
        self.choice_slots = torch.tensor(
            [k for start, stop in self.choices for k in range(start, stop)], dtype=torch.long
        )
        offsets = np.cumsum([0, *widths])
        self.grids: list[LevelGrid] = []
        # Position in choice_slots → cell of the grids laid end to end, each flattened.
        self.grid_cell = torch.empty(len(self.choice_slots), dtype=torch.long)
        cells = 0
        for members in group_blocks(widths):
            grid = LevelGrid.of(members, widths, offsets, padding_slot=len(self.choice_slots))
            owned = grid.source < len(self.choice_slots)
            self.grid_cell[grid.source[owned]] = cells + torch.nonzero(owned).squeeze(1)
            self.grids.append(grid)
            cells += grid.cells
        self.blocks = len(widths)

    def grid(self, values: torch.Tensor, padding: float) -> list[torch.Tensor]:
        """The level slots of ``values`` as one (rows, blocks, widest) grid per group of blocks,
        padded with ``padding``."""
        slots = values.index_select(1, self.choice_slots)
        padded = torch.cat([slots, slots.new_full((slots.shape[0], 1), padding)], dim=1)
        return [
            padded.index_select(1, grid.source).reshape(slots.shape[0], grid.blocks, grid.widest)
            for grid in self.grids
        ]

    def ungrid(self, grids: list[torch.Tensor]) -> torch.Tensor:
        """Inverse of :meth:`grid`: the grids back to one column per level slot."""
        flat = torch.cat([grid.reshape(grid.shape[0], -1) for grid in grids], dim=1)
        return flat.index_select(1, self.grid_cell)


@dataclass(frozen=True, slots=True)
class LevelGrid:
    """Level blocks that share one padded grid: ``source`` maps each of its cells to a position
    in the layout's choice slots (or to the padding position past them)."""

    blocks: int
    widest: int
    source: torch.Tensor

    @property
    def cells(self) -> int:
        """Cells of one row of the grid, padding included."""
        return self.blocks * self.widest

    @classmethod
    def of(
        cls, members: list[int], widths: list[int], offsets: np.ndarray, *, padding_slot: int
    ) -> LevelGrid:
        """The grid of the blocks ``members`` (indices into ``widths``)."""
        widest = max(widths[block] for block in members)
        source = torch.full((len(members), widest), padding_slot, dtype=torch.long)
        for row, block in enumerate(members):
            start = int(offsets[block])
            source[row, : widths[block]] = torch.arange(start, start + widths[block])
        return cls(blocks=len(members), widest=widest, source=source.reshape(-1))


def group_blocks(widths: list[int], *, max_padding: float = 2.0) -> list[list[int]]:
    """Blocks (indices into ``widths``) grouped so that no group's grid has more than
    ``max_padding`` times as many cells as the levels it holds.

    Widest first, each block joins the current group while the bound holds, else opens the
    next: the cells of all grids together stay within ``max_padding`` times the levels, with
    few grids (each costs a handful of operations per step).
    """
    groups: list[list[int]] = []
    widest = levels = 0
    for block in sorted(range(len(widths)), key=lambda b: (-widths[b], b)):
        width = widths[block]
        if groups and (len(groups[-1]) + 1) * widest <= max_padding * (levels + width):
            groups[-1].append(block)
            levels += width
        else:
            groups.append([block])
            widest, levels = width, width
    return groups


class ConditionalVAE(nn.Module):
    """Encoder q(z | x, y) and decoder p(x | z, y) with one output head per span kind."""

    def __init__(
        self,
        *,
        spans: tuple[Span, ...],
        feature_width: int,
        condition_width: int,
        config: ModelConfig,
        blocked_slots: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.layout = SpanLayout(spans, feature_width, blocked_slots)
        self._column_names = span_columns(spans)
        self.columns = max(1, len(self._column_names))
        self.feature_width = feature_width
        self.condition_width = condition_width
        self.latent_dim = config.latent_dim
        self.temperature = config.relaxation_temperature
        hidden = config.hidden_width()
        self.encoder = _mlp(feature_width + condition_width, hidden, config.hidden_layers)
        self.to_mean = nn.Linear(hidden, config.latent_dim)
        self.to_log_var = nn.Linear(hidden, config.latent_dim)
        self.decoder = _mlp(config.latent_dim + condition_width, hidden, config.hidden_layers)
        self.to_output = nn.Linear(hidden, feature_width)
        self.log_sigma = nn.Parameter(torch.full((len(self.layout.gaussian),), math.log(0.1)))
        self._spans, self._blocked_slots = spans, blocked_slots
        slot_column = torch.zeros(feature_width, dtype=torch.long)
        for span in spans:
            slot_column[span.start : span.stop] = self._column_names.index(span.column)
        self._slot_column = slot_column
        self._plan: tuple[tuple[int, ...], DependencyPlan] | None = None
        if config.dependency_stages > 1 and feature_width <= MAX_DEPENDENCY_WIDTH:
            # Output slot o reads input slot i through dependency[i, o] when i's column comes in
            # an earlier stage than o's; zero at the start, so training begins from the plain
            # conditional VAE.
            self.dependency = nn.Parameter(torch.zeros(feature_width, feature_width))
            self.register_buffer(
                "column_stage", torch.zeros(len(self._column_names), dtype=torch.long)
            )
        else:
            self.dependency = None
        # softplus(-6) ≈ 0.0025: the knobs start (almost) at 1, the fitted distribution.
        self.privacy_knobs = nn.Parameter(torch.full((3,), -6.0))

    def set_stages(self, stages: dict[str, int]) -> None:
        """The stage of every column (0 first; see :func:`psygentab_core.dependencies
        .column_stages`). Without dependency stages there is nothing to set."""
        if self.dependency is None:
            return
        self.column_stage.copy_(
            torch.tensor([stages[name] for name in self._column_names], dtype=torch.long)
        )

    def dependency_plan(self) -> DependencyPlan | None:
        """The mask and per-stage layouts of the current stages (None with a single stage)."""
        if self.dependency is None:
            return None
        key = tuple(self.column_stage.tolist())
        if self._plan is None or self._plan[0] != key:
            plan = DependencyPlan.of(
                self._spans, key, self._column_names, self._slot_column, self._blocked_slots
            )
            self._plan = (key, plan)
        plan = self._plan[1]
        return plan if len(plan.stages) > 1 else None

    def dependency_weights(self) -> torch.Tensor | None:
        """``dependency`` with every link that does not point to a later stage cut (None with
        a single stage)."""
        plan = self.dependency_plan()
        return None if plan is None else self.dependency * plan.mask

    def with_dependencies(self, output: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``output`` plus the direct effect of the earlier-stage columns of ``rows``."""
        weights = self.dependency_weights()
        return output if weights is None else output + rows @ weights

    def encode(
        self, features: torch.Tensor, condition: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x, y)."""
        hidden = self.encoder(torch.cat([features, condition], dim=1))
        return self.to_mean(hidden), self.to_log_var(hidden).clamp(-10.0, 10.0)

    def decode(self, latent: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Raw output parameters: Gaussian means, flag logits and level logits, in span layout.

        Means are squashed into ±5 normal scores, a little beyond the widest observed range, so
        no gradient can push generated values off to infinity.
        """
        output = self.to_output(self.decoder(torch.cat([latent, condition], dim=1)))
        if self.layout.gaussian.numel():
            squashed = MAX_SCORE * torch.tanh(output / MAX_SCORE)
            output = torch.where(self.layout.is_gaussian, squashed, output)
        return output

    def sigma(self) -> torch.Tensor:
        """Per-column output noise scale of the Gaussian spans."""
        return sigma_of(self.log_sigma)

    def loss(
        self,
        features: torch.Tensor,
        condition: torch.Tensor,
        *,
        kl_weight: float,
        noise: torch.Tensor,
        sigma: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Negative ELBO per row and column: reconstruction of every span plus the weighted KL
        term, divided by the number of columns so that its scale (and so the size of a useful
        multiplier) does not depend on how wide the table is.

        ``sigma`` (one row per example, or one for all) replaces :meth:`sigma`: DP-SGD passes
        it per row so that Opacus sees each row's share of its gradient.
        """
        mean, log_var = self.encode(features, condition)
        latent = mean + torch.exp(0.5 * log_var) * noise
        output = self.with_dependencies(self.decode(latent, condition), features)
        sigma = self.sigma() if sigma is None else sigma
        elbo = reconstruction_loss(self.layout, output, features, sigma) + kl_weight * (
            kl_divergence(mean, log_var)
        )
        return elbo / self.columns

    def sample(
        self, condition: torch.Tensor, *, generator: torch.Generator, relaxed: bool
    ) -> torch.Tensor:
        """Generated rows in span layout.

        Both give hard rows (0/1 flags, one-hot levels); with ``relaxed=True`` they carry the
        gradients of their Gumbel-softmax relaxation, for the privacy surrogates.
        """
        spread = self.privacy_spread()
        latent = self._prior_latent(condition.shape[0], spread, generator)
        output = self.decode(latent, condition)
        return self._draw(output, spread, self.sigma(), generator=generator, relaxed=relaxed)

    def loss_and_sample(
        self,
        features: torch.Tensor,
        condition: torch.Tensor,
        generating: torch.Tensor,
        *,
        kl_weight: float,
        noise: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`loss` of a batch and relaxed rows generated for the conditions ``generating``
        (:meth:`sample` with ``relaxed=True``), the same random numbers drawn in the same order,
        from one pass through the decoder: a training step on a small table is dominated by
        the fixed cost of each operation, not by the arithmetic, so one pass over both halves
        costs little more than either.
        """
        mean, log_var = self.encode(features, condition)
        posterior = mean + torch.exp(0.5 * log_var) * noise
        spread = self.privacy_spread()
        prior = self._prior_latent(generating.shape[0], spread, generator)
        output = self.decode(torch.cat([posterior, prior]), torch.cat([condition, generating]))
        rows = features.shape[0]
        sigma = self.sigma()
        posterior_output = self.with_dependencies(output[:rows], features)
        elbo = reconstruction_loss(self.layout, posterior_output, features, sigma) + kl_weight * (
            kl_divergence(mean, log_var)
        )
        generated = self._draw(output[rows:], spread, sigma, generator=generator, relaxed=True)
        return elbo / self.columns, generated

    def _prior_latent(
        self, rows: int, spread: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        return torch.randn(rows, self.latent_dim, generator=generator) * spread[0]

    def _draw(
        self,
        output: torch.Tensor,
        spread: torch.Tensor,
        sigma: torch.Tensor,
        *,
        generator: torch.Generator,
        relaxed: bool,
    ) -> torch.Tensor:
        """Rows drawn from the decoder's ``output``, stage by stage where there are stages: each
        stage's outputs get the effect of the rows already drawn for the earlier ones."""
        plan = self.dependency_plan()
        stages = ((self.layout, None),) if plan is None else plan.stages
        weights = None if plan is None else self.dependency * plan.mask
        rows = None
        for layout, gaussians in stages:
            shifted = output if rows is None else output + rows @ weights
            # Flatter level and flag distributions: logits divided by the third privacy knob.
            shifted = torch.where(self.layout.is_gaussian, shifted, shifted / spread[2])
            drawn = sample_spans(
                layout,
                shifted,
                (sigma if gaussians is None else sigma[gaussians]) * spread[1],
                generator=generator,
                relaxed=relaxed,
                temperature=self.temperature,
            )
            rows = drawn if rows is None else rows + drawn
        assert rows is not None
        return rows

    def privacy_spread(self) -> torch.Tensor:
        """The three privacy knobs, each >= 1: latent spread, output noise, level temperature.

        At 1 the generator samples its fitted distribution; above 1 it draws more diverse rows,
        further from any training patient. Only the privacy constraints move them upward (the
        fidelity terms pull them back), which gives the multipliers a lever that cannot break
        the fitted model.
        """
        return 1.0 + functional.softplus(self.privacy_knobs)

    def privacy_parameters(self) -> list[nn.Parameter]:
        """The parameters the privacy constraints act on."""
        return [self.privacy_knobs]


@dataclass(frozen=True, slots=True)
class DependencyPlan:
    """How the stages of a generator's columns are drawn.

    ``mask[i, o]`` is 1 where output slot o may read input slot i (i's column in an earlier
    stage); ``stages`` holds, in order, the layout of each non-empty stage's spans and the
    positions of its numbers among all numbers (to pick their output noise scales).
    """

    mask: torch.Tensor
    stages: tuple[tuple[SpanLayout, torch.Tensor], ...]

    @classmethod
    def of(
        cls,
        spans: tuple[Span, ...],
        column_stage: tuple[int, ...],
        columns: tuple[str, ...],
        slot_column: torch.Tensor,
        blocked: tuple[int, ...],
    ) -> DependencyPlan:
        """The plan for columns in stages ``column_stage`` (one per name of ``columns``)."""
        stage_of = dict(zip(columns, column_stage, strict=True))
        slot_stage = torch.tensor(column_stage, dtype=torch.long)[slot_column]
        mask = (slot_stage[:, None] < slot_stage[None, :]).float()
        gaussian_spans = [s for s in spans if s.kind is SpanKind.GAUSSIAN]
        stages = []
        for stage in sorted(set(column_stage)):
            members = tuple(s for s in spans if stage_of[s.column] == stage)
            gaussians = torch.tensor(
                [k for k, s in enumerate(gaussian_spans) if stage_of[s.column] == stage],
                dtype=torch.long,
            )
            stages.append((SpanLayout(members, len(slot_column), blocked), gaussians))
        return cls(mask=mask, stages=tuple(stages))


def sigma_of(log_sigma: torch.Tensor) -> torch.Tensor:
    """Output noise scales from their logarithms, kept between 0.01 and 1."""
    return log_sigma.clamp(_LOG_SIGMA_MIN, 0.0).exp()


def reconstruction_loss(
    layout: SpanLayout, output: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor
) -> torch.Tensor:
    """Per-row negative log-likelihood of the encoded rows under the decoder's output."""
    loss = torch.zeros(output.shape[0])
    if layout.gaussian.numel():
        mean = output.index_select(1, layout.gaussian)
        value = target.index_select(1, layout.gaussian)
        nll = 0.5 * ((value - mean) / sigma) ** 2 + torch.log(sigma)
        observed = torch.ones_like(nll)
        has_flag = layout.gaussian_flag >= 0
        if has_flag.any():
            flags = target.index_select(1, layout.gaussian_flag.clamp_min(0))
            observed = torch.where(has_flag, 1.0 - flags, observed)
        loss = loss + (nll * observed).sum(dim=1)
    if layout.flag.numel():
        loss = loss + functional.binary_cross_entropy_with_logits(
            output.index_select(1, layout.flag),
            target.index_select(1, layout.flag),
            reduction="none",
        ).sum(dim=1)
    if layout.blocks:
        # A padded cell gets a logit far below any real one: it takes no probability and, being
        # finite, no NaN from 0 · ∞ in the backward pass.
        for logits, levels in zip(
            layout.grid(output, _PAD_LOGIT), layout.grid(target, 0.0), strict=True
        ):
            log_p = torch.log_softmax(logits, dim=2)
            chosen = levels.argmax(dim=2, keepdim=True)
            loss = loss - log_p.gather(2, chosen).sum(dim=(1, 2))
    return loss


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(q(z | x) ‖ N(0, I)) per row."""
    return -0.5 * (1.0 + log_var - mean**2 - log_var.exp()).sum(dim=1)


def sample_spans(
    layout: SpanLayout,
    output: torch.Tensor,
    sigma: torch.Tensor,
    *,
    generator: torch.Generator,
    relaxed: bool,
    temperature: float,
) -> torch.Tensor:
    """Draw rows from the decoder's output distribution (reparameterised where relaxed)."""
    if layout.blocked.any():
        output = output.masked_fill(layout.blocked, -torch.inf)
    values = torch.zeros_like(output)
    if layout.gaussian.numel():
        noise = torch.randn(output.shape[0], layout.gaussian.numel(), generator=generator)
        means = output.index_select(1, layout.gaussian)
        values = values.index_copy(1, layout.gaussian, means + sigma * noise)
    if layout.flag.numel():
        logits = output.index_select(1, layout.flag)
        uniform = torch.rand(logits.shape, generator=generator).clamp(1e-6, 1 - 1e-6)
        logistic = torch.log(uniform) - torch.log1p(-uniform)
        hard_flags = ((logits + logistic) > 0).to(output.dtype)
        flags = (
            _straight_through(hard_flags, torch.sigmoid((logits + logistic) / temperature))
            if relaxed
            else hard_flags
        )
        values = values.index_copy(1, layout.flag, flags)
        if not relaxed:
            # A missing entry carries no value; zero it as the encoder does for real rows.
            owned = layout.gaussian_flag >= 0
            slots = layout.gaussian[owned]
            present = 1.0 - values[:, layout.gaussian_flag[owned]]
            values = values.index_copy(1, slots, values[:, slots] * present)
    if not layout.blocks:
        return values
    drawn = []
    for logits in layout.grid(output, _PAD_LOGIT):
        uniform = torch.rand(logits.shape, generator=generator).clamp(1e-9, 1 - 1e-9)
        perturbed = logits - torch.log(-torch.log(uniform))
        hard = functional.one_hot(perturbed.argmax(dim=2), logits.shape[2]).to(output.dtype)
        if relaxed:
            hard = _straight_through(hard, torch.softmax(perturbed / temperature, dim=2))
        drawn.append(hard)
    return values.index_copy(1, layout.choice_slots, layout.ungrid(drawn))


def _straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """The hard value forward, the relaxed gradient backward (straight-through estimator).

    Surrogates then see the same rows the exact measurement sees, so their levels agree, while
    gradients still reach the logits.
    """
    return hard + soft - soft.detach()

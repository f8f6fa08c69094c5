"""The generator: a conditional variational autoencoder over the encoded table.

Why this model: on two CPU cores a small VAE trains in seconds where a GAN needs minutes and a
careful balance of two networks; conditioning on the target class lets us sample every class,
however rare, in exactly the share we choose; and its samples are a differentiable function of
the decoder's outputs (reparameterised Gaussians, relaxed Bernoulli flags and Gumbel-softmax
levels), so the privacy surrogates send gradients straight into the generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from psygentab_core.encoding import Span, SpanKind
from psygentab_core.errors import ConfigError

_LOG_SIGMA_MIN = math.log(0.01)
MAX_SCORE = 5.0
# Logit of the padding cells of the level grid (see SpanLayout): exp(-1e4) is exactly 0.
_PAD_LOGIT = -1e4


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelConfig:
    """Size and loss weights of the generator."""

    latent_dim: int = 32
    # 128 fits the bundled clinical tables as well as 256 did, at half the cost of a step.
    hidden_dim: int = 128
    hidden_layers: int = 2
    kl_weight: float = 1.0
    # Weight of the kernel two-sample term that keeps rows generated from the prior close to the
    # data distribution (the ELBO alone only shapes the decoder where training rows are encoded).
    mmd_weight: float = 1.0
    # Temperature of the relaxed samples fed to the privacy surrogates.
    relaxation_temperature: float = 0.5

    def __post_init__(self) -> None:
        for name in ("latent_dim", "hidden_dim", "hidden_layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be at least 1; got {getattr(self, name)}.")
        if self.kl_weight <= 0:
            raise ConfigError(f"model.kl_weight must be > 0; got {self.kl_weight!r}.")
        if self.mmd_weight < 0:
            raise ConfigError(f"model.mmd_weight must be >= 0; got {self.mmd_weight!r}.")
        if self.relaxation_temperature <= 0:
            raise ConfigError("model.relaxation_temperature must be > 0.")


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
        # All level blocks at once, as a (rows, blocks, widest) grid padded with a slot that no
        # softmax ever picks: one softmax, argmax and cross-entropy for every categorical column
        # instead of a handful of small operations per column, which dominated a training step
        # on tables with many categories (and again in the backward pass).
        widths = [stop - start for start, stop in self.choices]
        self.choice_slots = torch.tensor(
            [k for start, stop in self.choices for k in range(start, stop)], dtype=torch.long
        )
        self.widest = max(widths, default=0)
        # Grid cell → position in choice_slots, or len(choice_slots) (the padding column).
        padded = torch.full((len(widths), self.widest), len(self.choice_slots), dtype=torch.long)
        # Position in choice_slots → flat grid cell.
        self.grid_cell = torch.empty(len(self.choice_slots), dtype=torch.long)
        position = 0
        for block, width in enumerate(widths):
            padded[block, :width] = torch.arange(position, position + width)
            self.grid_cell[position : position + width] = block * self.widest + torch.arange(width)
            position += width
        self.grid_source = padded.reshape(-1)
        self.blocks = len(widths)

    def grid(self, values: torch.Tensor, padding: float) -> torch.Tensor:
        """The level slots of ``values`` as (rows, blocks, widest), padded with ``padding``."""
        slots = values.index_select(1, self.choice_slots)
        filler = slots.new_full((slots.shape[0], 1), padding)
        grid = torch.cat([slots, filler], dim=1).index_select(1, self.grid_source)
        return grid.reshape(slots.shape[0], self.blocks, self.widest)

    def ungrid(self, grid: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`grid`: (rows, blocks, widest) back to one column per level slot."""
        return grid.reshape(grid.shape[0], -1).index_select(1, self.grid_cell)


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
        self.columns = max(1, len({s.column for s in spans}))
        self.feature_width = feature_width
        self.condition_width = condition_width
        self.latent_dim = config.latent_dim
        self.temperature = config.relaxation_temperature
        self.encoder = _mlp(
            feature_width + condition_width, config.hidden_dim, config.hidden_layers
        )
        self.to_mean = nn.Linear(config.hidden_dim, config.latent_dim)
        self.to_log_var = nn.Linear(config.hidden_dim, config.latent_dim)
        self.decoder = _mlp(
            config.latent_dim + condition_width, config.hidden_dim, config.hidden_layers
        )
        self.to_output = nn.Linear(config.hidden_dim, feature_width)
        self.log_sigma = nn.Parameter(torch.full((len(self.layout.gaussian),), math.log(0.1)))
        # softplus(-6) ≈ 0.0025: the knobs start (almost) at 1, the fitted distribution.
        self.privacy_knobs = nn.Parameter(torch.full((3,), -6.0))

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
        output = self.decode(latent, condition)
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
        elbo = reconstruction_loss(self.layout, output[:rows], features, sigma) + kl_weight * (
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
        # Flatter level and flag distributions: logits divided by the third privacy knob.
        output = torch.where(self.layout.is_gaussian, output, output / spread[2])
        return sample_spans(
            self.layout,
            output,
            sigma * spread[1],
            generator=generator,
            relaxed=relaxed,
            temperature=self.temperature,
        )

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
        log_p = torch.log_softmax(layout.grid(output, _PAD_LOGIT), dim=2)
        chosen = layout.grid(target, 0.0).argmax(dim=2, keepdim=True)
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
    logits = layout.grid(output, _PAD_LOGIT)
    uniform = torch.rand(logits.shape, generator=generator).clamp(1e-9, 1 - 1e-9)
    perturbed = logits - torch.log(-torch.log(uniform))
    hard = functional.one_hot(perturbed.argmax(dim=2), layout.widest).to(output.dtype)
    if relaxed:
        hard = _straight_through(hard, torch.softmax(perturbed / temperature, dim=2))
    return values.index_copy(1, layout.choice_slots, layout.ungrid(hard))


def _straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """The hard value forward, the relaxed gradient backward (straight-through estimator).

    Surrogates then see the same rows the exact measurement sees, so their levels agree, while
    gradients still reach the logits.
    """
    return hard + soft - soft.detach()

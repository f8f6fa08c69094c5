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


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelConfig:
    """Size and loss weights of the generator."""

    latent_dim: int = 32
    hidden_dim: int = 256
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
        gaussian = self.layout.gaussian
        if gaussian.numel():
            squashed = MAX_SCORE * torch.tanh(output[:, gaussian] / MAX_SCORE)
            output = output.index_copy(1, gaussian, squashed)
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
        rows = condition.shape[0]
        spread = self.privacy_spread()
        latent = torch.randn(rows, self.latent_dim, generator=generator) * spread[0]
        output = self.decode(latent, condition)
        # Flatter level and flag distributions: logits divided by the third privacy knob.
        output = torch.where(self.layout.is_gaussian, output, output / spread[2])
        return sample_spans(
            self.layout,
            output,
            self.sigma() * spread[1],
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
        mean = output[:, layout.gaussian]
        value = target[:, layout.gaussian]
        nll = 0.5 * ((value - mean) / sigma) ** 2 + torch.log(sigma)
        observed = torch.ones_like(nll)
        has_flag = layout.gaussian_flag >= 0
        if has_flag.any():
            flags = target[:, layout.gaussian_flag.clamp_min(0)]
            observed = torch.where(has_flag, 1.0 - flags, observed)
        loss = loss + (nll * observed).sum(dim=1)
    if layout.flag.numel():
        loss = loss + functional.binary_cross_entropy_with_logits(
            output[:, layout.flag], target[:, layout.flag], reduction="none"
        ).sum(dim=1)
    for start, stop in layout.choices:
        loss = loss + functional.cross_entropy(
            output[:, start:stop], target[:, start:stop].argmax(dim=1), reduction="none"
        )
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
        values = values.index_copy(1, layout.gaussian, output[:, layout.gaussian] + sigma * noise)
    if layout.flag.numel():
        logits = output[:, layout.flag]
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
    if not layout.choices:
        return values
    # Stitch the level blocks in between the already-sampled numeric slots.
    pieces, position = [], 0
    for start, stop in layout.choices:
        pieces.append(values[:, position:start])
        logits = output[:, start:stop]
        uniform = torch.rand(logits.shape, generator=generator).clamp(1e-9, 1 - 1e-9)
        perturbed = logits - torch.log(-torch.log(uniform))
        hard = functional.one_hot(perturbed.argmax(dim=1), stop - start).to(output.dtype)
        if relaxed:
            pieces.append(_straight_through(hard, torch.softmax(perturbed / temperature, dim=1)))
        else:
            pieces.append(hard)
        position = stop
    pieces.append(values[:, position:])
    return torch.cat(pieces, dim=1)


def _straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """The hard value forward, the relaxed gradient backward (straight-through estimator).

    Surrogates then see the same rows the exact measurement sees, so their levels agree, while
    gradients still reach the logits.
    """
    return hard + soft - soft.detach()

"""The generator's level grid, its losses and its one-pass training forward."""

from __future__ import annotations

import torch
from torch.nn import functional

from psygentab_core.encoding import Span, SpanKind
from psygentab_core.model import (
    ConditionalVAE,
    ModelConfig,
    SpanLayout,
    reconstruction_loss,
    sample_spans,
)

# A number with a missing flag, three level blocks of different widths, another number.
SPANS = (
    Span("a", SpanKind.GAUSSIAN, 0, 1),
    Span("a", SpanKind.FLAG, 1, 1),
    Span("c", SpanKind.CHOICE, 2, 3),
    Span("d", SpanKind.CHOICE, 5, 2),
    Span("e", SpanKind.GAUSSIAN, 7, 1),
    Span("f", SpanKind.CHOICE, 8, 5),
)
WIDTH = 13
BLOCKS = ((2, 5), (5, 7), (8, 13))


def encoded_rows(rows: int, generator: torch.Generator) -> torch.Tensor:
    target = torch.zeros(rows, WIDTH)
    target[:, 0] = torch.randn(rows, generator=generator)
    target[:, 1] = (torch.rand(rows, generator=generator) < 0.2).float()
    target[:, 7] = torch.randn(rows, generator=generator)
    for start, stop in BLOCKS:
        level = torch.randint(stop - start, (rows,), generator=generator)
        target[torch.arange(rows), start + level] = 1.0
    return target


def test_level_loss_is_the_cross_entropy_of_every_block() -> None:
    generator = torch.Generator().manual_seed(0)
    output = torch.randn(50, WIDTH, generator=generator)
    target = encoded_rows(50, generator)
    sigma = torch.tensor([0.3, 0.7])
    layout = SpanLayout(SPANS, WIDTH)
    expected = reconstruction_loss(SpanLayout(SPANS[:2] + SPANS[4:5], WIDTH), output, target, sigma)
    for start, stop in BLOCKS:
        expected = expected + functional.cross_entropy(
            output[:, start:stop], target[:, start:stop].argmax(dim=1), reduction="none"
        )
    torch.testing.assert_close(reconstruction_loss(layout, output, target, sigma), expected)


def test_sampled_levels_are_one_hot_per_block_and_never_blocked() -> None:
    layout = SpanLayout(SPANS, WIDTH, blocked=(9,))
    output = torch.zeros(2000, WIDTH, requires_grad=True)
    for relaxed in (False, True):
        values = sample_spans(
            layout,
            output,
            torch.ones(2),
            generator=torch.Generator().manual_seed(1),
            relaxed=relaxed,
            temperature=0.5,
        )
        for start, stop in BLOCKS:
            torch.testing.assert_close(values[:, start:stop].sum(dim=1), torch.ones(2000))
        assert values[:, 9].abs().max() == 0
        # Equal logits: every allowed level of the five-level block in about equal shares.
        shares = values[:, [8, 10, 11, 12]].mean(dim=0).detach()
        assert (shares - 0.25).abs().max() < 0.04
    # The relaxed sample carries gradients to the level logits.
    (values[:, 8:13] * torch.arange(5.0)).sum().backward()
    assert output.grad is not None
    assert output.grad[:, 8:13].abs().sum() > 0


def test_one_pass_loss_and_sample_match_the_separate_calls() -> None:
    torch.manual_seed(0)
    model = ConditionalVAE(
        spans=SPANS,
        feature_width=WIDTH,
        condition_width=2,
        config=ModelConfig(hidden_dim=16, latent_dim=4),
    )
    generator = torch.Generator().manual_seed(2)
    features = encoded_rows(32, generator)
    condition = functional.one_hot(torch.arange(32) % 2, 2).float()
    noise = torch.randn(32, 4, generator=generator)
    losses, generated = model.loss_and_sample(
        features,
        condition,
        condition[:8],
        kl_weight=1.0,
        noise=noise,
        generator=torch.Generator().manual_seed(3),
    )
    separate = torch.Generator().manual_seed(3)
    torch.testing.assert_close(losses, model.loss(features, condition, kl_weight=1.0, noise=noise))
    torch.testing.assert_close(
        generated, model.sample(condition[:8], generator=separate, relaxed=True)
    )

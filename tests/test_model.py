"""The generator's level grid, its losses and its one-pass training forward."""

from __future__ import annotations

import torch
from torch.nn import functional

from psygentab_core.encoding import Span, SpanKind
from psygentab_core.model import (
    ConditionalVAE,
    ModelConfig,
    SpanLayout,
    group_blocks,
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


def test_blocks_share_grids_only_within_the_padding_bound() -> None:
    # The COVID-19 table's level blocks: one of 88 levels among nine narrow ones.
    widths = [2, 5, 88, 2, 2, 2, 8, 10]
    groups = group_blocks(widths)
    assert sorted(b for group in groups for b in group) == list(range(len(widths)))
    for group in groups:
        cells = len(group) * max(widths[b] for b in group)
        assert cells <= 2.0 * sum(widths[b] for b in group)
    # One grid padded to the widest would hold 8 x 88 = 704 cells for 119 levels.
    assert sum(len(g) * max(widths[b] for b in g) for g in groups) <= 2 * sum(widths)
    assert group_blocks([3, 3, 3]) == [[0, 1, 2]]
    assert group_blocks([]) == []


def test_grid_and_ungrid_are_inverse_over_several_grids() -> None:
    spans = tuple(
        Span(f"c{i}", SpanKind.CHOICE, start, width)
        for i, (start, width) in enumerate([(0, 40), (40, 2), (42, 3), (45, 2)])
    )
    layout = SpanLayout(spans, 47)
    assert len(layout.grids) > 1
    values = torch.randn(5, 47)
    grids = layout.grid(values, padding=-7.0)
    torch.testing.assert_close(layout.ungrid(grids), values)
    # Padding fills exactly the cells no level owns.
    padded = sum(int((g == -7.0).sum()) for g in grids)
    assert padded == 5 * (sum(g.cells for g in layout.grids) - 47)


def two_level_columns(stages: int) -> ConditionalVAE:
    """A generator of two three-level columns whose second copies the first once staged."""
    spans = (Span("parent", SpanKind.CHOICE, 0, 3), Span("child", SpanKind.CHOICE, 3, 3))
    torch.manual_seed(0)
    model = ConditionalVAE(
        spans=spans,
        feature_width=6,
        condition_width=0,
        config=ModelConfig(hidden_dim=8, latent_dim=2, dependency_stages=stages),
    )
    with torch.no_grad():
        model.to_output.weight.zero_()
        model.to_output.bias.zero_()
        if model.dependency is not None:
            model.dependency[:3, 3:] = 30.0 * torch.eye(3)
    return model


def test_staged_columns_are_drawn_after_the_columns_they_depend_on() -> None:
    model = two_level_columns(stages=2)
    model.set_stages({"parent": 0, "child": 1})
    rows = model.sample(
        torch.zeros(3000, 0), generator=torch.Generator().manual_seed(0), relaxed=False
    )
    parent, child = rows[:, :3].argmax(dim=1), rows[:, 3:].argmax(dim=1)
    assert (parent == child).float().mean() > 0.99
    # The parent itself keeps its own (uniform) distribution.
    assert (torch.bincount(parent, minlength=3) / 3000.0 - 1 / 3).abs().max() < 0.04
    # The same weights with both columns in one stage: nothing to depend on, so chance.
    model.set_stages({"parent": 0, "child": 0})
    rows = model.sample(
        torch.zeros(3000, 0), generator=torch.Generator().manual_seed(0), relaxed=False
    )
    agree = (rows[:, :3].argmax(dim=1) == rows[:, 3:].argmax(dim=1)).float().mean()
    assert abs(agree - 1 / 3) < 0.04


def test_the_loss_reads_the_real_earlier_columns() -> None:
    model = two_level_columns(stages=2)
    model.set_stages({"parent": 0, "child": 1})
    same = torch.tensor([[1.0, 0, 0, 1, 0, 0]])
    different = torch.tensor([[1.0, 0, 0, 0, 1, 0]])
    noise = torch.zeros(1, 2)
    loss_same = model.loss(same, torch.zeros(1, 0), kl_weight=1.0, noise=noise)
    loss_different = model.loss(different, torch.zeros(1, 0), kl_weight=1.0, noise=noise)
    # The child's level given its parent: almost certain when equal, almost impossible otherwise.
    assert float((loss_different - loss_same).detach()) > 10.0
    # A single stage has no dependency weights at all.
    assert two_level_columns(stages=1).dependency is None


def test_hidden_width_follows_the_training_rows_unless_set() -> None:
    automatic = ModelConfig()
    assert [automatic.hidden_width(rows) for rows in (10, 767, 768, 10**6)] == [64, 64, 128, 128]
    assert automatic.hidden_width() == 128  # rows not known: the width for large tables
    assert ModelConfig(hidden_dim=200).hidden_width(10) == 200
    fixed = automatic.for_rows(550)
    assert fixed.hidden_dim == 64
    assert fixed.hidden_width(10**6) == 64
    model = ConditionalVAE(
        spans=(Span("x", SpanKind.GAUSSIAN, 0, 1),),
        feature_width=1,
        condition_width=0,
        config=fixed,
    )
    assert model.to_output.in_features == 64

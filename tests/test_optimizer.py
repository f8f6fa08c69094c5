"""The hand-written Adam against torch.optim.Adam, and its per-group learning rates."""

from __future__ import annotations

import pytest
import torch

from psygentab_core.optimizer import Adam


def _models() -> tuple[torch.nn.Module, torch.nn.Parameter, torch.nn.Module, torch.nn.Parameter]:
    torch.manual_seed(0)
    layer = torch.nn.Linear(5, 3)
    knob = torch.nn.Parameter(torch.randn(2))
    twin = torch.nn.Linear(5, 3)
    twin.load_state_dict(layer.state_dict())
    return layer, knob, twin, torch.nn.Parameter(knob.detach().clone())


def test_matches_torch_adam_with_groups_and_parameters_without_gradients() -> None:
    layer, knob, twin, twin_knob = _models()
    ours = Adam([(list(layer.parameters()), 1e-2), ([knob], 0.05)])
    reference = torch.optim.Adam(
        [{"params": list(twin.parameters())}, {"params": [twin_knob], "lr": 0.05}], lr=1e-2
    )
    x = torch.randn(20, 5)
    for step in range(40):
        for model, extra, optimizer in ((layer, knob, ours), (twin, twin_knob, reference)):
            optimizer.zero_grad()
            loss = model(x).pow(2).mean()
            # Every third step the knob gets no gradient: it must not move, nor count the step.
            if step % 3:
                loss = loss + extra.pow(2).sum()
            loss.backward()
            optimizer.step()
    for ours_param, torch_param in zip(
        [*layer.parameters(), knob], [*twin.parameters(), twin_knob], strict=True
    ):
        torch.testing.assert_close(ours_param, torch_param)
    assert ours.steps[-1] == 26  # the knob stepped only when it had a gradient


def test_group_rates_can_change_between_steps() -> None:
    layer, knob, _, _ = _models()
    optimizer = Adam([(list(layer.parameters()), 1e-2), ([knob], 0.05)])
    before = knob.detach().clone()
    knob.grad = torch.ones_like(knob)
    optimizer.rates[1] = 0.5
    optimizer.step()
    # Adam's first step moves every coordinate by the learning rate (sign of the gradient).
    torch.testing.assert_close(knob.detach(), before - 0.5)
    assert all(p.grad is None for p in layer.parameters())


def test_rejects_a_rate_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="learning rates must be > 0"):
        Adam([([torch.nn.Parameter(torch.zeros(1))], 0.0)])

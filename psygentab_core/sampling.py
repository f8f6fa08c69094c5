"""Which training rows each optimiser step sees: class-rebalanced batches, within a visit cap.

A conditional generator learns p(x | class) for each class from the batches it is shown. With a
rare class (5.7 % of the COVID-19 tests) a batch of 256 holds about 14 of its rows, so the rare
class's distribution is fitted on a fraction of the steps. Drawing rows with weight
``count(class) ** -balance`` shows it more often (``balance`` 1: every class equally often; 0:
as in the data). The class shares of the generated table do not change: they come from the
stored shares, not from the batches.

Showing the same rows more often is also how a generator comes to memorise them, so the
rebalancing is capped: no row is drawn, in expectation, more often than ``max_passes`` times in
the whole run (``TrainConfig.max_row_draws``, about what every row of a small table gets
anyway), so a small table, whose rows are already seen that often, is rebalanced little or not
at all, and a large one only as far as its rare rows reach that count.
"""

from __future__ import annotations

import numpy as np
import torch


def oversampling(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """How many times more often a row of each class is drawn than under uniform drawing,
    when each row of class k has weight ``weights[k]``."""
    counts = np.asarray(counts, dtype=float)
    return counts.sum() * weights / np.dot(counts, weights)


def class_weights(counts: np.ndarray, *, balance: float, cap: float) -> np.ndarray:
    """Per-row weight of each class: towards ``count ** -balance``, as far as the cap allows.

    The weights mix uniform (1) and fully rebalanced weights, ``(1 - t) + t · w``, with the
    largest ``t`` in [0, 1] at which no class is oversampled more than ``cap`` times (found by
    bisection: a rare class's oversampling grows with ``t``). Classes without rows get weight 0.
    """
    counts = np.asarray(counts, dtype=float)
    present = counts > 0
    uniform = present.astype(float)
    if balance == 0 or present.sum() < 2:
        return uniform
    rebalanced = np.zeros_like(counts)
    rebalanced[present] = counts[present] ** -balance
    rebalanced /= rebalanced[present].min()  # the largest class keeps weight 1, as in uniform

    def mixed(t: float) -> np.ndarray:
        return (1.0 - t) * uniform + t * rebalanced

    if oversampling(counts, mixed(1.0)).max() <= cap:
        return mixed(1.0)
    low, high = 0.0, 1.0
    for _ in range(40):
        middle = (low + high) / 2
        if oversampling(counts, mixed(middle)).max() <= cap:
            low = middle
        else:
            high = middle
    return mixed(low)


class BatchOrder:
    """An endless stream of row indices, in batches, for the training loop.

    ``labels`` are the rows' class codes (None: no target, nothing to rebalance);
    ``planned_draws`` the rows all of the run's steps will draw, from which the natural number
    of passes, and so the cap on oversampling, follows.

    Without rebalancing: successive random permutations of the rows (each row once per pass,
    as before). With it: rows drawn with replacement by class weight, a pass's worth at a time.
    """

    def __init__(
        self,
        rows: int,
        labels: torch.Tensor | None,
        *,
        balance: float,
        max_passes: float,
        planned_draws: int,
        generator: torch.Generator,
    ) -> None:
        self.generator = generator
        self.rows = rows
        self.row_weights: torch.Tensor | None = None
        if labels is not None and balance > 0 and rows:
            counts = torch.bincount(labels).numpy()
            natural_passes = planned_draws / self.rows
            weights = class_weights(counts, balance=balance, cap=max_passes / natural_passes)
            if not np.allclose(weights[counts > 0], 1.0):
                self.row_weights = torch.from_numpy(weights)[labels]
        self.order = torch.empty(0, dtype=torch.long)
        self.cursor = 0

    def next_batch(self, size: int) -> torch.Tensor:
        """The indices of the next ``size`` rows (``size`` at most the number of rows)."""
        if self.cursor + size > self.order.numel():
            self.order, self.cursor = self._refill(), 0
        batch = self.order[self.cursor : self.cursor + size]
        self.cursor += size
        return batch

    def _refill(self) -> torch.Tensor:
        if self.row_weights is None:
            return torch.randperm(self.rows, generator=self.generator)
        return torch.multinomial(
            self.row_weights, self.rows, replacement=True, generator=self.generator
        )

"""Adam for the constrained training loop, without ``torch.optim``.

``torch.optim`` imports ``torch._dynamo`` the first time an optimiser is built (its methods are
wrapped to stay out of compiled graphs), which took 1.4 s of CPU: most of a small table's whole
fit. The update below is the one ``torch.optim.Adam`` makes with its default settings (Kingma &
Ba, 2015, with bias correction; no weight decay, no AMSGrad), on every parameter in a few
multi-tensor operations. DP-SGD keeps ``torch.optim``: Opacus wraps a torch optimiser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class Adam:
    """Adam over groups of parameters, each group with its own learning rate.

    As in ``torch.optim.Adam``, a parameter without a gradient is left as it is and its own step
    count (which decides the bias correction) does not advance.
    """

    def __init__(
        self,
        groups: Sequence[tuple[Sequence[torch.nn.Parameter], float]],
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params: list[torch.nn.Parameter] = []
        # One learning rate per group.
        self.rates: list[float] = []
        self._group: list[int] = []
        for params, rate in groups:
            if not rate > 0:
                raise ValueError(f"learning rates must be > 0; got {rate!r}")
            self.params += list(params)
            self._group += [len(self.rates)] * len(params)
            self.rates.append(rate)
        self.betas = betas
        self.eps = eps
        self.steps = [0] * len(self.params)
        self.first = [torch.zeros_like(p) for p in self.params]
        self.second = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        """Forget the gradients of the last step."""
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        beta1, beta2 = self.betas
        for i in live:
            self.steps[i] += 1
        params = [self.params[i] for i in live]
        grads = [self.params[i].grad for i in live]
        first = [self.first[i] for i in live]
        second = [self.second[i] for i in live]
        torch._foreach_lerp_(first, grads, 1.0 - beta1)
        torch._foreach_mul_(second, beta2)
        torch._foreach_addcmul_(second, grads, grads, value=1.0 - beta2)
        denominators = torch._foreach_sqrt(second)
        torch._foreach_div_(denominators, [math.sqrt(1.0 - beta2 ** self.steps[i]) for i in live])
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(
            params,
            first,
            denominators,
            [-self.rates[self._group[i]] / (1.0 - beta1 ** self.steps[i]) for i in live],
        )

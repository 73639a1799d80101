"""One optimiser and one learning-rate schedule per parameter group, stepped in order.

A method (or the fine-tuner, or the linear probe) declares named parameter groups; each gets
the optimiser that `group_optim(optim_cfg, name)` describes. Every epoch the rate of each
group is set from its own schedule (`sslskel.common.schedule.step_lr`). A step takes one loss
per group: every group's loss is back-propagated into that group's parameters only, and only
then are the optimisers stepped, in the declared order, so no step changes a weight that a
later backward pass still needs. Checkpoints hold every optimiser's state.

Example:
    >>> import torch
    >>> from sslskel.engine.config import OptimConfig
    >>> w, c = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(1))
    >>> cfg = OptimConfig(lr=0.1, momentum=0.0, weight_decay=0.0, groups={"critic": {"lr": 0.5}})
    >>> opt = GroupOptimizers({"main": [w], "critic": [c]}, cfg)
    >>> opt.set_epoch(0)
    {'main': 0.1, 'critic': 0.5}
    >>> opt.step({"main": (w * c).sum(), "critic": (w.detach() * c).sum()})
    >>> [round(v, 4) for v in w.tolist()], c.tolist()    # main's loss did not move the critic
    ([0.9, 0.9], [0.0])
"""

from __future__ import annotations

import torch

from ..common.schedule import set_lr, step_lr
from .config import OptimConfig, group_optim

# tf.keras.optimizers.Adagrad's defaults (torch's are 0 and 1e-10, so its first step moves every
# weight by about +-lr): accumulator starts at 0.1, update lr * g / (sqrt(accumulator) + 1e-7)
KERAS_ADAGRAD_INITIAL_ACCUMULATOR, KERAS_ADAGRAD_EPS = 0.1, 1e-7


def build_optimizer(params, optim_cfg: OptimConfig) -> torch.optim.Optimizer:
    if optim_cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=optim_cfg.lr, momentum=optim_cfg.momentum,
                               weight_decay=optim_cfg.weight_decay, nesterov=optim_cfg.nesterov)
    if optim_cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=optim_cfg.lr, weight_decay=optim_cfg.weight_decay)
    if optim_cfg.optimizer == "adagrad":  # CV-MIM's, with the state of the authors' Keras Adagrad
        return torch.optim.Adagrad(params, lr=optim_cfg.lr, weight_decay=optim_cfg.weight_decay,
                                   initial_accumulator_value=KERAS_ADAGRAD_INITIAL_ACCUMULATOR, eps=KERAS_ADAGRAD_EPS)
    raise ValueError(f"optim.optimizer: expected sgd, adam or adagrad, got {optim_cfg.optimizer!r}")


class GroupOptimizers:
    """{group: optimiser} built from {group: parameters} (in stepping order) and `optim_cfg`."""

    def __init__(self, groups: dict[str, list[torch.nn.Parameter]], optim_cfg: OptimConfig):
        seen: dict[int, str] = {}
        for name, params in groups.items():
            for p in params:
                if id(p) in seen:
                    raise ValueError(f"a parameter is in both group {seen[id(p)]!r} and group {name!r}")
                seen[id(p)] = name
        self.params = {name: list(params) for name, params in groups.items()}
        self.settings = {name: group_optim(optim_cfg, name) for name in groups}
        self.optimizers = {name: build_optimizer(self.params[name], self.settings[name]) for name in groups}
        self.lrs = {name: s.lr for name, s in self.settings.items()}

    @property
    def names(self) -> list[str]:
        return list(self.optimizers)

    def set_epoch(self, epoch: int) -> dict[str, float]:
        """Set every group's rate for `epoch` (one rate per epoch); returns {group: lr}."""
        for name, s in self.settings.items():
            self.lrs[name] = step_lr(s.lr, epoch, s.milestones, s.gamma, s.warmup_epochs)
            set_lr(self.optimizers[name], self.lrs[name])
        return dict(self.lrs)

    def step(self, losses: dict[str, torch.Tensor], after_backward=None) -> None:
        """Back-propagate each group's loss into its own parameters, then step in order;
        `after_backward()` runs between the two (averaging gradients over processes)."""
        unknown = set(losses) - set(self.optimizers)
        if unknown:
            raise ValueError(f"losses for unknown parameter group(s) {sorted(unknown)}; "
                             f"groups: {', '.join(self.optimizers)}")
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        names = [n for n in self.optimizers if n in losses]
        if len(self.optimizers) == 1:
            losses[names[0]].backward()  # one group: every trainable parameter is in it
        else:
            for i, name in enumerate(names):
                # `inputs` keeps this loss's gradient out of the other groups' parameters
                losses[name].backward(inputs=self.params[name], retain_graph=i < len(names) - 1)
        if after_backward is not None:
            after_backward()
        for name in names:
            self.optimizers[name].step()

    def state_dict(self) -> dict:
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}

    def load_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        if sorted(state) != sorted(self.optimizers):
            raise ValueError(f"{source}: optimiser groups {sorted(state)} do not match this run's "
                             f"{sorted(self.optimizers)}")
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state[name])

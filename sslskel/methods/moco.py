"""MoCo as in CMD / HaLP: momentum key encoder, a queue of normalised keys, InfoNCE.

Query encoder + MLP head are trained; the key encoder + head follow them by an exponential
moving average (m = 0.999). Keys of each batch are pushed into a ring buffer of K = 16384
entries that serves as negatives. `positive_terms` is the hook HaLP uses to add its term.

Example:
    >>> import torch
    >>> from sslskel.engine.config import load_config
    >>> cfg = load_config(None, ["data.layout=ntu25", "optim.batch_size=4", "moco.queue_size=32", "moco.mlp_hidden=16", "moco.feature_dim=8",
    ...                          "encoder.args={hidden_size: 8, num_layers: 1}"])
    >>> moco = MoCo(cfg)
    >>> views = [torch.randn(4, 3, 10, 25, 2), torch.randn(4, 3, 10, 25, 2)]
    >>> batch = Batch(views, torch.full((4, 2), 10), torch.zeros(4, dtype=torch.long), torch.arange(4))
    >>> losses, logs = moco.training_step(batch, Progress(0, 0))
    >>> sorted(losses), int(moco.queue_ptr), int(moco.num_enqueued)
    (['main'], 4, 4)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.batch import Batch
from ..distributed import gather_rows
from .base import PretrainMethod, Progress
from .losses import info_nce
from .settings import check_settings, integer, number


@dataclass
class MocoSettings:
    """The `moco:` section (docs/methods.md, MoCo); the defaults are the paper config's."""

    queue_size: int = 16384
    momentum: float = 0.999
    temperature: float = 0.07
    feature_dim: int = 128
    mlp_hidden: int = 2048  # hidden width of the projection MLP (2048 in the paper config)

    def __post_init__(self):
        # queue_size >= optim.batch_size spans two sections: sslskel.engine.config checks it
        check_settings(self, {
            "queue_size": integer(1),
            "momentum": number(0, 1),
            "temperature": number(0, open_low=True),
            "feature_dim": integer(1),
            "mlp_hidden": integer(1),
        }, section="moco")


class MoCo(PretrainMethod):
    name = "moco"
    settings = {"moco": MocoSettings}

    def __init__(self, cfg, in_channels: int = 3, num_persons: int = 2):
        super().__init__(cfg, in_channels, num_persons)
        m = cfg.moco
        self.temperature = m.temperature
        self.momentum = m.momentum
        self.projector = self.build_projector(self.encoder.feature_dim, m.mlp_hidden, m.feature_dim)
        self.key_encoder = copy.deepcopy(self.encoder)
        self.key_projector = copy.deepcopy(self.projector)
        for p in self.key_parameters():
            p.requires_grad_(False)
        self.register_buffer("queue", F.normalize(torch.randn(m.queue_size, m.feature_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("num_enqueued", torch.zeros((), dtype=torch.long))

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        if cfg.moco.queue_size < cfg.optim.batch_size:
            # a batch's keys go into the queue at once: a smaller ring overwrites its own slots
            raise ValueError(f"moco.queue_size, optim.batch_size: expected moco.queue_size >= optim.batch_size, "
                             f"got {cfg.moco.queue_size} < {cfg.optim.batch_size}")

    def key_parameters(self):
        return [*self.key_encoder.parameters(), *self.key_projector.parameters()]

    def query_parameters(self):
        return [*self.encoder.parameters(), *self.projector.parameters()]

    @torch.no_grad()
    def momentum_update(self) -> None:
        keys, queries = self.key_parameters(), self.query_parameters()
        torch._foreach_mul_(keys, self.momentum)
        torch._foreach_add_(keys, queries, alpha=1.0 - self.momentum)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        size = self.queue.shape[0]
        slots = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue[slots] = keys.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % size)
        self.num_enqueued += keys.shape[0]

    def recent_keys(self, n: int) -> torch.Tensor:
        """The n most recently enqueued keys, oldest first (reads across the ring's wrap)."""
        size = self.queue.shape[0]
        slots = (self.queue_ptr - n + torch.arange(n, device=self.queue.device)) % size
        return self.queue[slots]

    def query(self, x: torch.Tensor, lengths: torch.Tensor, progress: Progress):
        """(normalised query (B, D), {name: extra loss term of the query}); none for MoCo."""
        return F.normalize(self.projector(self.encoder(x, lengths)).float(), dim=1), {}

    @torch.no_grad()
    def key(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The normalised key (B, D) of the momentum encoder: what the queue stores."""
        return F.normalize(self.key_projector(self.key_encoder(x, lengths)).float(), dim=1)

    def training_step(self, batch: Batch, progress: Progress):
        (x_q, x_k), lengths = batch.views, batch.lengths
        q, query_terms = self.query(x_q, lengths[:, 0], progress)
        with torch.no_grad():
            self.momentum_update()
            k = self.key(x_k, lengths[:, 1])
        queue = self.queue.clone()  # negatives as they were before this batch's keys
        loss, logits = info_nce(q, k, queue, self.temperature)
        extra_loss, logs = self.positive_terms(q, k, queue, progress)
        for name, term in query_terms.items():
            extra_loss = extra_loss + term
            logs[f"loss/{name}"] = term.detach()
        self.enqueue(gather_rows(k))  # under torchrun: every process's keys, the same queue everywhere
        with torch.no_grad():
            logs.update({
                "loss/infonce": loss.detach(),
                "sim/query_key": logits[:, 0].mean() * self.temperature,
                "sim/query_queue": logits[:, 1:].mean() * self.temperature,
                "contrast/top1": (logits.argmax(dim=1) == 0).float().mean(),
                "queue/filled": (self.num_enqueued.clamp(max=queue.shape[0]) / queue.shape[0]).float(),
            })
        return {"main": loss + extra_loss}, logs

    def positive_terms(self, q, k, queue, progress: Progress):
        """Extra loss terms on top of InfoNCE (none for plain MoCo)."""
        return q.new_zeros(()), {}

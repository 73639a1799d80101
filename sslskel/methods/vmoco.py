"""VMoCo (VCL on MoCo; docs/methods.md, VCL): the query is a sample of a projected normal
posterior, the key the normalised posterior mean of the momentum encoder (what the queue
stores), and the loss adds beta times the normalised KL bound of the query's posterior:

    L = InfoNCE(z_q, normalize(mu_k), queue) + beta * KL(q(z | x_q)) / d

The key branch is a momentum copy without gradients, so only the query's posterior gets the
KL term (a choice: a symmetrised MoCo would give both views one).

Example:
    >>> import torch
    >>> from sslskel.data.batch import Batch
    >>> from sslskel.engine.config import load_config
    >>> cfg = load_config(None, ["method=vmoco", "data.layout=ntu25", "optim.batch_size=4", "moco.queue_size=8",
    ...     "moco.mlp_hidden=16", "moco.feature_dim=8", "encoder.args={hidden_size: 8, num_layers: 1}"])
    >>> method = VMoCo(cfg)
    >>> views = [torch.randn(4, 3, 10, 25, 2), torch.randn(4, 3, 10, 25, 2)]
    >>> losses, logs = method.training_step(Batch(views, torch.full((4, 2), 10), torch.zeros(4), torch.arange(4)),
    ...                                     Progress(0, 0))
    >>> "loss/kl" in logs, round(float(method.queue[:4].norm(dim=1).mean()), 4)
    (True, 1.0)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Progress
from .moco import MoCo
from .vcl import Variational, VCLSettings


class VMoCo(Variational, MoCo):
    name = "vmoco"
    settings = {**MoCo.settings, "vcl": VCLSettings}

    def __init__(self, cfg, in_channels: int = 3, num_persons: int = 2):
        super().__init__(cfg, in_channels, num_persons)
        self.setup_posterior(cfg)  # MoCo built the posterior projector (build_projector) and its key copy

    def query(self, x, lengths, progress: Progress):
        return self.sample_view(x, lengths, progress.step, 0)

    @torch.no_grad()
    def key(self, x, lengths):
        mu, _ = self.key_projector(self.key_encoder(x, lengths))
        return F.normalize(mu.float(), dim=1)

"""SimCLR (Chen et al., ICML 2020) on skeleton clips: two augmented views, an MLP projector,
NT-Xent with the 2N - 2 other embeddings of the batch as negatives. The plain baseline of
VSimCLR (sslskel/methods/vsimclr.py; docs/methods.md, VCL).

Example:
    >>> import torch
    >>> from sslskel.data.batch import Batch
    >>> from sslskel.engine.config import load_config
    >>> cfg = load_config(None, ["method=simclr", "data.layout=ntu25", "optim.batch_size=4",
    ...     "encoder.args={hidden_size: 8, num_layers: 1}", "simclr.mlp_hidden=16", "simclr.feature_dim=8"])
    >>> simclr = SimCLR(cfg)
    >>> views = [torch.randn(4, 3, 10, 25, 2), torch.randn(4, 3, 10, 25, 2)]
    >>> losses, logs = simclr.training_step(Batch(views, torch.full((4, 2), 10), torch.zeros(4), torch.arange(4)),
    ...                                     Progress(0, 0))
    >>> sorted(losses), float(losses["main"].detach()) > 0
    (['main'], True)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.batch import Batch
from ..distributed import gather_rows_with_grad
from .base import PretrainMethod, Progress
from .losses import nt_xent
from .settings import check_settings, integer, number


@dataclass
class SimCLRSettings:
    """The `simclr:` section. SimCLR's own defaults are temperature 0.5 (batch 4096) / 0.1;
    we take 0.1 and CMD's projector widths (choices; docs/methods.md, VCL)."""

    temperature: float = 0.1
    feature_dim: int = 128
    mlp_hidden: int = 2048

    def __post_init__(self):
        check_settings(self, {"temperature": number(0, open_low=True), "feature_dim": integer(1),
                              "mlp_hidden": integer(1)}, section="simclr")


class SimCLR(PretrainMethod):
    name = "simclr"
    settings = {"simclr": SimCLRSettings}

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        if cfg.optim.batch_size < 2:
            # the negatives of a clip are the other clips of its batch
            raise ValueError(f"optim.batch_size: expected at least 2 for method {cfg.method} (its negatives are "
                             f"the other clips of the batch), got {cfg.optim.batch_size}")

    def __init__(self, cfg, in_channels: int = 3, num_persons: int = 2):
        super().__init__(cfg, in_channels, num_persons)
        s = cfg.simclr
        self.temperature = s.temperature
        self.projector = self.build_projector(self.encoder.feature_dim, s.mlp_hidden, s.feature_dim)

    def project_view(self, h: torch.Tensor, progress: Progress, view: int):
        """(normalised embedding (B, D), {name: extra loss term}) of one view's representation
        `h`; VSimCLR samples."""
        return F.normalize(self.projector(h).float(), dim=1), {}

    def training_step(self, batch: Batch, progress: Progress):
        # both views through the encoder in one call (the projector sees each view alone)
        h1, h2 = self.encode_views(batch.views[:2], [batch.lengths[:, 0], batch.lengths[:, 1]])
        z1, terms1 = self.project_view(h1, progress, 0)
        z2, terms2 = self.project_view(h2, progress, 1)
        # under torchrun: the global batch's 2N - 2 negatives (gradients return to each process's rows)
        loss, top1 = nt_xent(gather_rows_with_grad(z1), gather_rows_with_grad(z2), self.temperature)
        logs = {"loss/nt_xent": loss.detach(), "contrast/top1": top1.detach(),
                "sim/positive": (z1 * z2).sum(1).mean().detach()}
        total = loss
        for name in terms1:  # terms of both views (VSimCLR's KL), summed as the objective says
            term = terms1[name] + terms2[name]
            total = total + term
            logs[f"loss/{name}"] = term.detach()
        return {"main": total}, logs

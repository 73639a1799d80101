"""CV-MIM (Zhao et al., CVPR 2021): view-disentangled pose and view embeddings by cross-view
mutual information (docs/methods.md, CV-MIM).

The encoder's representation h is split into a pose part z_p and a view part z_v (one
linear layer; nothing for `pose_mlp`, whose 64 outputs already are z_p and z_v, as in the
authors' code). For two views a, b of the same performance (another camera's recording, or a
camera-augmented copy where there is none):

    L_E = sum_{v in a,b} JSD(g(h_v), fuse(z_p^v, z_v^v))       representation
        + lambda1 JSD(z_p^a, z_p^b)                            cross-view (lambda1 = 5)
        + lambda2 sum_{v in a,b} CLUB(z_p^v -> z_v^v)          disentanglement (0.5)
        + lambda3 sum_{v in a,b} softplus(-D(sigmoid([z_p^v, z_v^v])))   prior (1)

with JSD the Jensen-Shannon MI estimator over the batch (positives on the diagonal), g the
critic and CLUB the upper bound of I(z_p; z_v) under the Gaussian network Q. Per-view terms
are summed over the two views, as in the authors' code (the paper writes one view). Three parameter
groups, stepped from one forward pass: "main" (encoder, split, critic) minimises L_E; "q"
fits Q to (z_p, z_v) by maximum likelihood; "d" trains the prior discriminator D to tell
U(0, 1) samples from sigmoid([z_p, z_v]), with a gradient penalty at both. Q and D see
detached embeddings; the main loss's gradients reach only the main group
(`sslskel.engine.optim.GroupOptimizers`).

Choices (the paper's per-frame pose encoder works on 2-D keypoints; sslskel's encoders see
clips): the critic g is an MLP on the encoder's representation (the authors' g shares E's
first layer and adds its own residual blocks); for `pose_mlp` the clip embedding is the mean
of the per-frame embeddings. The authors' code doubles the cross-view term
(`cvmim.code_cross_view_factor`) and adds an inter-view CLUB term (`cvmim.club_inter`).

Example:
    >>> import torch
    >>> from sslskel.data.batch import Batch
    >>> from sslskel.engine.config import load_config
    >>> cfg = load_config(None, ["method=cvmim", "data.layout=ntu25", "optim.batch_size=4",
    ...     "encoder.args={hidden_size: 8, num_layers: 1}", "cvmim.view_pairs=camera"])
    >>> method = CVMIM(cfg)
    >>> views = [torch.randn(4, 3, 10, 25, 2), torch.randn(4, 3, 10, 25, 2)]
    >>> losses, logs = method.training_step(Batch(views, torch.full((4, 2), 10), torch.zeros(4), torch.arange(4)),
    ...                                     Progress(0, 0))
    >>> sorted(losses), method.embed(views[0], torch.full((4,), 10))[0].shape
    (['d', 'main', 'q'], torch.Size([4, 32]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.batch import Batch
from ..distributed import draw_local_rows, gather_rows_with_grad
from .base import PretrainMethod, Progress, step_generator
from .camera import project_perspective, random_rotation_matrices, rotate
from .cvmim_losses import (FUSIONS, club_upper_bound, discriminator_loss_with_penalty, fuse, fused_dim,
                           jsd_mi_loss, prior_matching_loss, q_log_likelihood_loss)
from .settings import check_settings, integer, number, one_of

VIEW_PAIRS = ("partners", "camera")


@dataclass
class CVMIMSettings:
    """The `cvmim:` section; defaults are the paper's (docs/methods.md, CV-MIM)."""

    pose_dim: int = 32
    view_dim: int = 32
    fusion: str = "moe"  # moe (paper default) | poe | cat
    critic_hidden: int = 256
    q_hidden: int = 64  # width of Q's mean and log-variance heads (Dense-BN-ELU-Dense)
    cross_view_weight: float = 5.0  # lambda1
    disentangle_weight: float = 0.5  # lambda2
    prior_weight: float = 1.0  # lambda3
    code_cross_view_factor: bool = False  # the authors' code multiplies lambda1 by 2
    club_inter: bool = False  # the code's inter-view term q(z_v^b | z_v^a), not in the paper
    # partners: the same performance from another camera, a camera-augmented copy where the
    # data has none; camera: always the camera-augmented copy
    view_pairs: str = "partners"
    azimuth_deg: float = 180.0
    elevation_deg: float = 30.0
    roll_deg: float = 30.0
    project_2d: bool = False  # both views (and evaluation) as perspective 2-D projections, as the paper

    def __post_init__(self):
        check_settings(self, {
            "pose_dim": integer(1), "view_dim": integer(1), "fusion": one_of(FUSIONS),
            "critic_hidden": integer(1), "q_hidden": integer(1),
            "cross_view_weight": number(0), "disentangle_weight": number(0), "prior_weight": number(0),
            "view_pairs": one_of(VIEW_PAIRS), "azimuth_deg": number(0, 180),
            "elevation_deg": number(0, 90), "roll_deg": number(0, 90)}, section="cvmim")
        if self.fusion == "poe" and self.pose_dim != self.view_dim:
            raise ValueError(f"cvmim.fusion: expected moe or cat when cvmim.pose_dim != cvmim.view_dim, "
                             f"got poe with {self.pose_dim} and {self.view_dim}")


def gaussian_head(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """Q's heads (the authors' code): Dense - BN - ELU - Dense."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ELU(), nn.Linear(hidden, out_dim))


class ConditionalGaussian(nn.Module):
    """q(y | x) = N(mean(x), diag exp(logvar(x))), logvar bounded by tanh (CLUB's network Q)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int):
        super().__init__()
        self.mean = gaussian_head(in_dim, hidden, out_dim)
        self.logvar = nn.Sequential(gaussian_head(in_dim, hidden, out_dim), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(x), self.logvar(x)


class CVMIM(PretrainMethod):
    name = "cvmim"
    settings = {"cvmim": CVMIMSettings}
    groups = ("main", "q", "d")
    num_views = 2

    def __init__(self, cfg, in_channels: int = 3, num_persons: int = 2):
        super().__init__(cfg, in_channels, num_persons)
        s = self.cvmim = cfg.cvmim
        if s.project_2d and cfg.data.modality != "joint":
            raise ValueError(f"cvmim.project_2d: expected data.modality joint (a projection of joints), "
                             f"got {cfg.data.modality}")
        self.seed = cfg.run.seed
        self.needs_partners = s.view_pairs == "partners"
        self.per_frame = bool(getattr(self.encoder, "per_frame", False))
        width = self.encoder.feature_dim
        both = s.pose_dim + s.view_dim
        # pose_mlp's outputs are z_p and z_v themselves (the authors' E ends in Dense 64)
        self.split = nn.Identity() if self.per_frame and width == both else nn.Linear(width, both)
        self.critic = nn.Sequential(nn.Linear(width, s.critic_hidden), nn.BatchNorm1d(s.critic_hidden),
                                    nn.ReLU(inplace=True),
                                    nn.Linear(s.critic_hidden, fused_dim(s.pose_dim, s.view_dim, s.fusion)))
        self.q = ConditionalGaussian(s.pose_dim, s.view_dim, s.q_hidden)
        self.q_inter = ConditionalGaussian(s.view_dim, s.view_dim, s.q_hidden) if s.club_inter else None
        self.discriminator = nn.Sequential(nn.Linear(both, 64), nn.ReLU(inplace=True), nn.Linear(64, 32),
                                           nn.ReLU(inplace=True), nn.Linear(32, 1))

    def parameter_groups(self):
        q_modules = [self.q] + ([self.q_inter] if self.q_inter is not None else [])
        return {"main": [*self.encoder.parameters(), *self.split.parameters(), *self.critic.parameters()],
                "q": [p for m in q_modules for p in m.parameters()],
                "d": list(self.discriminator.parameters())}

    # -- embeddings -------------------------------------------------------------------------
    def _input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder was trained on: the clips, or their 2-D projection."""
        return project_perspective(x) if self.cvmim.project_2d else x

    def _split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = z.float()
        return z[..., : self.cvmim.pose_dim], z[..., self.cvmim.pose_dim:]

    @torch.no_grad()
    def embed(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_p, z_v) of clips, in eval mode (for evaluation; restores the training mode)."""
        was_training = self.training
        self.eval()
        z_p, z_v = self._split(self.split(self.encoder(self._input(x), lengths)))
        self.train(was_training)
        return z_p, z_v

    @torch.no_grad()
    def frame_pose_embeddings(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Per-frame z_p (N, T, pose_dim) of a per-frame encoder; frames past `lengths` are zero."""
        if not self.per_frame:
            raise ValueError(f"cvmim: frame_pose_embeddings needs a per-frame encoder (pose_mlp), "
                             f"got {type(self.encoder).__name__}")
        was_training = self.training
        self.eval()
        frames = self.encoder.frame_embeddings(self._input(x), lengths)
        z_p = self._split(self.split(frames))[0]
        self.train(was_training)
        return z_p

    # -- training ---------------------------------------------------------------------------
    def camera_augment(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """A new camera's view of every clip. Stacked modalities (joint_motion: 6 channels) are
        rotated group by group with the same rotation: joints, bones and motion all turn with
        the camera."""
        s = self.cvmim
        if x.shape[1] % 3:
            raise ValueError(f"cvmim: camera augmentation needs 3-D coordinates (channels a multiple of 3), "
                             f"got {x.shape[1]} channels")
        # one camera per clip, drawn for the global batch under torchrun (as one process draws)
        generator = step_generator(self.seed, step, 1, x.device)
        cameras = draw_local_rows(lambda n: random_rotation_matrices(n, generator, s.azimuth_deg, s.elevation_deg,
                                                                     s.roll_deg), len(x))
        return torch.cat([rotate(part, cameras) for part in x.split(3, dim=1)], dim=1)

    def second_view(self, batch: Batch, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(clips, lengths, is_partner): another camera's recording where the batch has one,
        else a camera-augmented copy of the second augmented view."""
        x, lengths = batch.views[1], batch.lengths[:, 1]
        augmented = self.camera_augment(x, step)
        if not self.needs_partners or batch.partner_views is None:
            return augmented, lengths, torch.zeros(len(x), dtype=torch.bool, device=x.device)
        has = batch.has_partner.to(torch.bool)
        pick = has.view(-1, *([1] * (x.dim() - 1)))
        return (torch.where(pick, batch.partner_views[0], augmented),
                torch.where(has, batch.partner_lengths[:, 0], lengths), has)

    def training_step(self, batch: Batch, progress: Progress):
        s = self.cvmim
        x_a = batch.views[0]
        x_b, len_b, is_partner = self.second_view(batch, progress.step)
        x_a, x_b = self._input(x_a), self._input(x_b)  # with project_2d: both as 2-D keypoints
        h = [self.encoder(x_a, batch.lengths[:, 0]), self.encoder(x_b, len_b)]
        z = [self._split(self.split(hv)) for hv in h]  # [(z_p, z_v) of view a, of view b]

        # The MI estimators score pairs across the batch: under torchrun they see the global
        # batch (G gathers every process's rows; gradients return to their own process).
        G = gather_rows_with_grad
        representation = sum(jsd_mi_loss(G(self.critic(hv).float()), G(fuse(z_p, z_v, s.fusion)))
                             for hv, (z_p, z_v) in zip(h, z))
        cross_view = jsd_mi_loss(G(z[0][0]), G(z[1][0]))
        lambda1 = s.cross_view_weight * (2.0 if s.code_cross_view_factor else 1.0)
        # summed over the two views as the authors' code sums every per-view term
        club = sum(club_upper_bound(*map(G, self.q(z_p)), G(z_v)) for z_p, z_v in z)
        if self.q_inter is not None:
            club = club + 2.0 * club_upper_bound(*map(G, self.q_inter(z[0][1])), G(z[1][1]))
        fake = [torch.sigmoid(torch.cat([z_p, z_v], dim=1)) for z_p, z_v in z]
        prior = sum(prior_matching_loss(self.discriminator(f).float()) for f in fake)
        main = representation + lambda1 * cross_view + s.disentangle_weight * club + s.prior_weight * prior

        # Q and D learn from detached embeddings: their losses must not shape the encoder
        q_loss = sum(q_log_likelihood_loss(*self.q(z_p.detach()), z_v.detach()) for z_p, z_v in z)
        if self.q_inter is not None:
            q_loss = q_loss + 2.0 * q_log_likelihood_loss(*self.q_inter(z[0][1].detach()), z[1][1].detach())
        generator = step_generator(self.seed, progress.step, 2, fake[0].device)
        d_loss = sum(discriminator_loss_with_penalty(self.discriminator, draw_local_rows(
            lambda n: torch.rand((n, *f.shape[1:]), generator=generator, device=f.device), len(f)), f.detach())
            for f in fake)
        logs = {"loss/representation": representation.detach(), "loss/cross_view": cross_view.detach(),
                "loss/club": club.detach(), "loss/prior": prior.detach(),
                "cvmim/partner_fraction": is_partner.float().mean()}
        return {"main": main, "q": q_loss, "d": d_loss}, logs

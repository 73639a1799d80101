"""CV-MIM (Zhao et al., CVPR 2021): view-disentangled pose and view embeddings by cross-view
mutual information (docs/methods.md, CV-MIM).

The encoder's representation is split into a pose part z_p and a view part z_v (one linear
layer; nothing for `pose_mlp`, whose 64 outputs already are z_p and z_v, as in the authors'
code). For two views a, b of the same moment of one performance (another camera's recording
with the same temporal crop, or a camera-augmented copy where there is none), with the
authors' code's sums over the two views:

    L_E = sum_{v in a,b} JSD(g(x_v), fuse(z_p^v, z_v^v))              representation
        + 2 lambda1 JSD(z_p^a, z_p^b)                                 cross-view (lambda1 = 5)
        + lambda2 sum_{v in a,b} CLUB(z_p^v -> z_v^v)                 disentanglement (0.5)
        + lambda3 sum_{v in a,b} softplus(-D(sigmoid([z_p^v, z_v^v])))   prior (1)

Representation : cross-view = 2 : 10 = 1 : 5, as in the paper (one view, lambda1 = 5) and in
the code (both views, 5 x 2). JSD is the Jensen-Shannon MI estimator over the batch
(positives on the diagonal, pairs of the same performance left out of the negatives), g the
critic and CLUB the upper bound of I(z_p; z_v) under the Gaussian network Q.

Rows are single synchronised frames for a per-frame encoder (`cvmim.contrast: frames`, the
paper's; one frame per clip at the same fraction of both views), whole clips otherwise. The
critic g reads the encoder's first hidden layer and adds the encoder's residual blocks (the
authors' subencoder) where the encoder is `pose_mlp` and rows are frames; on a sequence
encoder it is an MLP on the representation. Three parameter groups, stepped from one forward
pass: "main" (encoder, split, critic) minimises L_E; "q" fits Q (widths = view dim) by maximum
likelihood on detached (z_p, z_v); "d" trains D (widths d_p + d_v, (d_p + d_v) / 2, 1) to tell
U(0, 1) samples from sigmoid([z_p, z_v]), with a gradient penalty at both. Q and D run with
autocast off.

Example:
    >>> import torch
    >>> from sslskel.data.batch import Batch
    >>> from sslskel.engine.config import load_config
    >>> cfg = load_config(None, ["method=cvmim", "data.layout=ntu25", "optim.batch_size=4",
    ...     "encoder.args={hidden_size: 8, num_layers: 1}", "cvmim.view_pairs=camera"])
    >>> method = CVMIM(cfg)
    >>> x = torch.randn(4, 3, 10, 25, 2)
    >>> losses, logs = method.training_step(Batch([x], torch.full((4, 1), 10), torch.zeros(4), torch.arange(4)),
    ...                                     Progress(0, 0))
    >>> sorted(losses), method.embed(x, torch.full((4,), 10))[0].shape
    (['d', 'main', 'q'], torch.Size([4, 32]))
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..data.batch import Batch
from ..distributed import draw_local_rows, gather_rows, gather_rows_with_grad
from ..models.pose_mlp import ResidualBlock
from .base import PretrainMethod, Progress, step_generator
from .camera import project_like_authors, random_rotation_matrices, rotate
from .cvmim_losses import (
    FUSIONS,
    club_upper_bound,
    discriminator_loss_with_penalty,
    fuse,
    fused_dim,
    jsd_mi_loss,
    prior_matching_loss,
    q_log_likelihood_loss,
)
from .precision import at_least_fp32, no_autocast
from .settings import check_settings, integer, number, one_of

VIEW_PAIRS = ("partners", "camera")
CONTRASTS = ("auto", "frames", "clips")


@dataclass
class CVMIMSettings:
    """The `cvmim:` section; defaults are the paper's (docs/methods.md, CV-MIM)."""

    pose_dim: int = 32
    view_dim: int = 32
    fusion: str = "moe"  # moe (paper default) | poe | cat
    critic_hidden: int = 256  # the critic MLP's width on sequence encoders (pose_mlp: its own blocks)
    representation_weight: float = 1.0  # not in the paper (1 there): 0 switches the term off, for ablations
    cross_view_weight: float = 5.0  # lambda1 (applied per view: 2 lambda1 in all, as the code)
    disentangle_weight: float = 0.5  # lambda2
    prior_weight: float = 1.0  # lambda3
    club_inter: bool = False  # the code's inter-view term q(z_v^b | z_v^a), not in the paper
    # partners: the same performance from another camera, a camera-augmented copy where the
    # data has none; camera: always the camera-augmented copy
    view_pairs: str = "partners"
    contrast: str = "auto"  # frames (the paper's, per-frame encoders only) | clips | auto
    crop_min: float = 0.5  # one temporal crop U(crop_min, 1) of the clip shared by both views
    mask_same_performance: bool = True  # pairs of one performance are no negatives in the JSD terms
    azimuth_deg: float = 180.0
    elevation_deg: float = 30.0
    roll_deg: float = 30.0
    project_2d: bool = False  # both views (and evaluation) as the authors' normalised 2-D projections

    def __post_init__(self):
        check_settings(self, {
            "pose_dim": integer(1), "view_dim": integer(1), "fusion": one_of(FUSIONS),
            "critic_hidden": integer(1), "representation_weight": number(0), "cross_view_weight": number(0),
            "disentangle_weight": number(0),
            "prior_weight": number(0), "view_pairs": one_of(VIEW_PAIRS), "contrast": one_of(CONTRASTS),
            "crop_min": number(0, 1, open_low=True), "azimuth_deg": number(0, 180),
            "elevation_deg": number(0, 90), "roll_deg": number(0, 90)}, section="cvmim")
        if self.fusion == "poe" and self.pose_dim != self.view_dim:
            raise ValueError(f"cvmim.fusion: expected moe or cat when cvmim.pose_dim != cvmim.view_dim, "
                             f"got poe with {self.pose_dim} and {self.view_dim}")


def gaussian_head(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """Q's heads (the authors' LikelihoodEstimator): Dense - BN - ELU - Dense."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ELU(), nn.Linear(hidden, out_dim))


class ConditionalGaussian(nn.Module):
    """q(y | x) = N(mean(x), diag exp(logvar(x))), logvar bounded by tanh (CLUB's network Q).
    Hidden width = out_dim, as the authors' LikelihoodEstimator(view_embedding_dim)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.mean = gaussian_head(in_dim, out_dim, out_dim)
        self.logvar = nn.Sequential(gaussian_head(in_dim, out_dim, out_dim), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with no_autocast(x):
            x = at_least_fp32(x)
            return self.mean(x), self.logvar(x)


def prior_discriminator(embedding_dim: int) -> nn.Sequential:
    """D: Dense(d) - ReLU - Dense(d // 2) - ReLU - Dense(1), d = d_p + d_v (the authors' code)."""
    half = max(embedding_dim // 2, 1)
    return nn.Sequential(nn.Linear(embedding_dim, embedding_dim), nn.ReLU(inplace=True),
                         nn.Linear(embedding_dim, half), nn.ReLU(inplace=True), nn.Linear(half, 1))


class NoAutocast(nn.Module):
    """`module` run in fp32 with autocast off (Q's and D's small MLPs)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with no_autocast(x):
            return self.module(at_least_fp32(x))


def frame_at(fraction: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Index of the frame at `fraction` in [0, 1) of each clip's valid frames (lengths >= 1)."""
    lengths = lengths.clamp_min(1)
    return torch.minimum((fraction * lengths).long(), lengths - 1)


class CVMIM(PretrainMethod):
    name = "cvmim"
    settings = {"cvmim": CVMIMSettings}

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        if cfg.cvmim.project_2d and cfg.data.modality != "joint":
            raise ValueError(f"cvmim.project_2d, data.modality: expected data.modality joint with "
                             f"cvmim.project_2d=true (a camera projects joints), got {cfg.data.modality}")
    groups = ("main", "q", "d")
    num_views = 1  # the second view is a partner with the same crop, or a camera-augmented copy
    extra_protocols = ("disentangle",)
    splits_pose_and_view = True  # `embed` gives (z_p, z_v): the disentangle probe reads it

    def __init__(self, cfg, in_channels: int = 3, num_persons: int = 2):
        super().__init__(cfg, in_channels, num_persons)
        s = self.cvmim = cfg.cvmim
        if s.project_2d and cfg.data.modality != "joint":
            raise ValueError(f"cvmim.project_2d: expected data.modality joint (a projection of joints), "
                             f"got {cfg.data.modality}")
        self.data_cfg, self.seed = cfg.data, cfg.run.seed
        # camera.py's axes are the body frame's (x shoulders, y facing = depth, z up); centred or
        # raw Kinect data are in camera space (x, y up, z depth): swap y and z around every
        # rotation and projection (a reflection, harmless under symmetric angle ranges)
        self.axes = [0, 2, 1] if cfg.data.normalize in ("center", "none") else [0, 1, 2]
        self.needs_partners = s.view_pairs == "partners"
        self.shared_crop = (s.crop_min, 1.0)
        self.per_frame = bool(getattr(self.encoder, "per_frame", False))
        if s.contrast == "frames" and not self.per_frame:
            raise ValueError(f"cvmim.contrast: expected clips or auto for encoder {cfg.encoder.name} "
                             "(frames needs a per-frame encoder: pose_mlp), got frames")
        self.frames = self.per_frame and s.contrast != "clips"
        width = self.encoder.feature_dim
        both = s.pose_dim + s.view_dim
        # pose_mlp's outputs are z_p and z_v themselves (the authors' E ends in Dense 64)
        self.split = nn.Identity() if self.per_frame and width == both else nn.Linear(width, both)
        self.critic = self._build_critic(width, fused_dim(s.pose_dim, s.view_dim, s.fusion))
        self.q = ConditionalGaussian(s.pose_dim, s.view_dim)
        self.q_inter = ConditionalGaussian(s.view_dim, s.view_dim) if s.club_inter else None
        self.discriminator = NoAutocast(prior_discriminator(both))

    def _build_critic(self, width: int, out_dim: int) -> nn.Sequential:
        """g: the encoder's residual blocks on its first hidden layer (frames of pose_mlp, the
        authors' subencoder), else Linear - BN - ReLU - Linear on the representation."""
        enc = self.encoder
        if self.frames:
            blocks = [ResidualBlock(enc.hidden, enc.layers_per_block, enc.dropout) for _ in range(enc.num_blocks)]
            return nn.Sequential(*blocks, nn.Linear(enc.hidden, out_dim))
        hidden = self.cvmim.critic_hidden
        return nn.Sequential(nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                             nn.Linear(hidden, out_dim))

    def parameter_groups(self):
        q_modules = [self.q] + ([self.q_inter] if self.q_inter is not None else [])
        return {"main": [*self.encoder.parameters(), *self.split.parameters(), *self.critic.parameters()],
                "q": [p for m in q_modules for p in m.parameters()],
                "d": list(self.discriminator.parameters())}

    def check_training_data(self, data) -> None:
        """Warn when the clips were rotated into the body's frame: no camera is left to separate."""
        if getattr(data, "normalization", "none") == "prenorm":
            warnings.warn(f"cvmim on pre-normalised data ({data.source or 'training split'}): the body-frame "
                          "rotation removes the camera, so cross-view partners share nearly one view; read raw "
                          "files with data.normalize=center (docs/methods.md, CV-MIM)", stacklevel=2)

    # -- embeddings -------------------------------------------------------------------------
    def _input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder was trained on: the clips, or the authors' 2-D projection of them."""
        return self._in_axes(project_like_authors, x, self.data_cfg.layout) if self.cvmim.project_2d else x

    def _in_axes(self, fn, x: torch.Tensor, *args) -> torch.Tensor:
        """fn applied in camera.py's axes to every group of 3 channels, the result in the data's."""
        if self.axes == [0, 1, 2]:
            return fn(x, *args)
        order = torch.tensor([g + a for g in range(0, x.shape[1], 3) for a in self.axes], device=x.device)
        return fn(x[:, order], *args)[:, order]

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

    # -- the two views ----------------------------------------------------------------------
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
        return self._in_axes(lambda v: torch.cat([rotate(part, cameras) for part in v.split(3, dim=1)], dim=1), x)

    def second_view(self, batch: Batch, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(clips, lengths, is_partner): another camera's recording of the same crop where the
        batch has one, else a camera-augmented copy of the first view (the same moment)."""
        x, lengths = batch.views[0], batch.lengths[:, 0]
        augmented = self.camera_augment(x, step)
        if not self.needs_partners or batch.partner_views is None:
            return augmented, lengths, torch.zeros(len(x), dtype=torch.bool, device=x.device)
        has = batch.has_partner.to(torch.bool)
        pick = has.view(-1, *([1] * (x.dim() - 1)))
        return (torch.where(pick, batch.partner_views[0], augmented),
                torch.where(has, batch.partner_lengths[:, 0], lengths), has)

    def _frame_rows(self, x: torch.Tensor, lengths: torch.Tensor, fraction: torch.Tensor):
        """(z, critic input) of one view's frame at `fraction` of its length."""
        frames = self.encoder.flatten_frames(x)
        t = frame_at(fraction, lengths.to(x.device))
        out, first = self.encoder.mlp_with_first_hidden(frames[torch.arange(len(x), device=x.device), t])
        return self.split(out), first

    # -- training ---------------------------------------------------------------------------
    def training_step(self, batch: Batch, progress: Progress):
        s = self.cvmim
        x_b, len_b, is_partner = self.second_view(batch, progress.step)
        x_a, x_b = self._input(batch.views[0]), self._input(x_b)  # with project_2d: both as 2-D keypoints
        if self.frames:  # one synchronised frame per pair: the same fraction of both clips
            generator = step_generator(self.seed, progress.step, 3, x_a.device)
            fraction = draw_local_rows(lambda n: torch.rand(n, generator=generator, device=x_a.device), len(x_a))
            rows = [self._frame_rows(x_a, batch.lengths[:, 0], fraction), self._frame_rows(x_b, len_b, fraction)]
        else:  # clips: both views through the encoder in one call
            rows = [(self.split(h), h) for h in self.encode_views([x_a, x_b], [batch.lengths[:, 0], len_b])]
        z = [self._split(out) for out, _ in rows]  # [(z_p, z_v) of view a, of view b]
        performance = batch.meta.get("performance") if s.mask_same_performance else None
        groups = None if performance is None else gather_rows(performance.to(x_a.device))
        main, logs = self._main_loss(rows, z, groups)
        q_loss, d_loss = self._estimator_losses(z, progress.step)
        logs["cvmim/partner_fraction"] = is_partner.float().mean()
        return {"main": main, "q": q_loss, "d": d_loss}, logs

    def _main_loss(self, rows, z, groups):
        """L_E and its terms' logs. The MI estimators score pairs across the batch: under
        torchrun they see the global batch (G gathers every process's rows; gradients return
        to their own process)."""
        s, G = self.cvmim, gather_rows_with_grad
        representation = sum(jsd_mi_loss(G(self.critic(first).float()), G(fuse(z_p, z_v, s.fusion)), groups)
                             for (_, first), (z_p, z_v) in zip(rows, z))
        cross_view = jsd_mi_loss(G(z[0][0]), G(z[1][0]), groups)
        club = sum(club_upper_bound(*map(G, self.q(z_p)), G(z_v)) for z_p, z_v in z)
        if self.q_inter is not None:  # the code's inter-view term, counted twice as in the code
            club = club + 2.0 * club_upper_bound(*map(G, self.q_inter(z[0][1])), G(z[1][1]))
        fake = [torch.sigmoid(torch.cat([z_p, z_v], dim=1)) for z_p, z_v in z]
        prior = sum(prior_matching_loss(self.discriminator(f)) for f in fake)
        # the cross-view term once per view, as every per-view term: 1 : 5 against representation
        main = (s.representation_weight * representation + 2.0 * s.cross_view_weight * cross_view
                + s.disentangle_weight * club + s.prior_weight * prior)
        logs = {"loss/representation": representation.detach(), "loss/cross_view": cross_view.detach(),
                "loss/club": club.detach(), "loss/prior": prior.detach()}
        return main, logs

    def _estimator_losses(self, z, step: int):
        """Q's likelihood loss and D's loss, on detached embeddings: they must not shape E."""
        q_loss = sum(q_log_likelihood_loss(*self.q(z_p.detach()), z_v.detach()) for z_p, z_v in z)
        if self.q_inter is not None:
            q_loss = q_loss + 2.0 * q_log_likelihood_loss(*self.q_inter(z[0][1].detach()), z[1][1].detach())
        fake = [torch.sigmoid(torch.cat([z_p, z_v], dim=1)).detach() for z_p, z_v in z]
        generator = step_generator(self.seed, step, 2, fake[0].device)
        d_loss = sum(discriminator_loss_with_penalty(self.discriminator, draw_local_rows(
            lambda n: torch.rand((n, *f.shape[1:]), generator=generator, device=f.device), len(f)), f)
            for f in fake)
        return q_loss, d_loss

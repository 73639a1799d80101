"""The embedded synthetic NTU-like dataset: jointed bodies performing actions, seen by 3 cameras.

Real skeleton data cannot be shipped, so new users, the tests and the benchmarks run on this.
Each sample is made by forward kinematics (`sslskel.data.kinematics`) of a 25-joint body with
per-subject bone lengths, moved by per-class motion primitives of arms, legs, torso and root.

What varies, as in NTU RGB+D 60:
- actions: 30 classes (`ACTION_NAMES`), the first `num_classes` (default 20) are used. They
  include pairs that differ only in the limb (raise / wave left vs right hand), the direction
  (step forward vs back, sit down vs stand up), the speed (slow point vs fast punch, clap vs
  fast clap) or the number of repetitions (jump once vs three times); two-person actions
  (handshake, push, hug, high five) have a second body, the others a zero second body;
- subjects: size and proportions (bone lengths), amplitude (overall and per class), tempo and
  resting posture (`style_scale`), and each subject's own manner of every action: a gain on
  each joint angle the action moves and an offset of every joint angle but the root while it
  is under way (`manner_scale`; `sample_manners`), shared by the subject's replications and
  cameras;
- performances: a random monotone time warp and the subject's tempo (`timing_scale`), a
  low-frequency "fidget" of every joint angle and a slow drift of the heading (up to
  +-12 deg) (`performance_scale`), and in half of them an unrelated arm movement (scratching,
  adjusting clothes) at a random time (`distraction_prob`); the partner in a two-person action
  is another subject with its own bones and manner;
- 2 replications per (subject, action): the subject faces camera 1 in the first and camera 3
  in the second, as NTU asked its performers to do;
- 3 Kinect-like cameras (azimuth -45, 0, +45 degrees, different heights and distances, all
  recording the SAME performance at the same time), camera-space metres: camera looks along
  +z, y up, x to the camera's left; subjects stand 2.5-3.5 m away;
- sensor noise: white noise growing with depth, plus smooth drift on joints the camera cannot
  see (behind the torso), which is what makes the camera matter after pre-normalisation;
  occasional tracking dropouts (a limb or the whole body 1 zero for 2-8 frames);
- 2-50 idle frames before and after the action; 30-150 frames per sample.

Names are `S001CcccPpppRrrrAaaa` (camera 1-3, performer = subject, replication 1-2, action =
label + 1), so `ntu_meta_from_names` and the official NTU split rules apply: `xsub` trains on
the NTU60 training subjects (1 2 4 5 8 9 13 14 15 16 17 18 19 of 1-20: 13 train / 7 test),
`xview` on cameras 2 and 3.

The cache (`ensure_synthetic`) is the CMD / HaLP layout (docs/methods.md, File formats) after the same
pre-normalisation users' CMD files went through (`sslskel.data.agcn_preprocess.pre_normalize`):
`<cache>/synthetic-<config hash>/<benchmark>/{train,val}_data_joint.npy` float32
(N, 3, max_frames, 25, 2), `{train,val}_num_frame.npy`, `{train,val}_label.pkl`.
Cache root: `$SSLSKEL_CACHE`, else `~/.cache/sslskel`. Each benchmark directory is written to
a temporary directory and renamed into place, so a reader never sees half a cache.

Deviation from real CMD files: frames after `num_frames` are zero (the 2s-AGCN script tiles
the sequence there); every reader crops to `num_frames`, so nothing downstream sees either.

Calibration (`benchmarks/calibrate_synthetic.py --epochs 16 --pretrain-epochs 15`, default
config, 1 CPU thread, 4 minutes; final-epoch test accuracy in %, seed 0; also in `CALIBRATION`):
    supervised BiGRU(128, 2 layers) + linear, xsub   87.5
    supervised, xview                                97.5
    1-NN (cosine) on raw pre-normalised coordinates  68.8        (xsub)
    linear probe on a frozen random-init BiGRU       30.7        (xsub)
    MoCo 15 epochs, online kNN k=1                   50.2        (xsub; random encoder 26.9)
Version 2 of this generator (little subject style, no manners) gave 98.1 / 97.8 / 93.7 / 41.8:
raw matching nearly as good as a trained encoder. Version 1 (strong per-performance fidgets
and distractions) gave 87.0 / 97.8 / 60.6 / 28.3, but pretraining learned nothing on it:
per-performance variation tells clips apart better than the actions, a shortcut for instance
discrimination. Version 3 puts the difficulty into per-(subject, action) manners instead,
which every test subject brings new but which no two clips of one performance differ in.
The README ("Synthetic data") has the measured effect of each knob.
As on NTU RGB+D (CTR-GCN 92.4 xsub vs 96.8 xview), cross-view is easier than cross-subject.

Example:
    >>> cfg = SyntheticConfig(num_classes=4, num_subjects=2, num_replications=1)
    >>> data = generate(cfg)
    >>> data.data.shape, len(data), data.names[0]
    ((24, 3, 150, 25, 2), 24, 'S001C001P001R001A001')
    >>> sorted(set(data.meta["camera"].tolist()))
    [1, 2, 3]
    >>> from sslskel.data.pairs import cross_view_partners
    >>> cross_view_partners(data.meta, len(data))[0].tolist()  # the same take by cameras 2 and 3
    [1, 2]
"""

from .actions import ACTION_NAMES, ACTIONS
from .cache import BENCHMARKS, cache_root, ensure_synthetic, write_raw_skeleton_files
from .generator import CALIBRATION, GENERATOR_VERSION, SyntheticConfig, generate

__all__ = ["ACTIONS", "ACTION_NAMES", "BENCHMARKS", "CALIBRATION", "GENERATOR_VERSION", "SyntheticConfig",
           "cache_root", "ensure_synthetic", "generate", "write_raw_skeleton_files"]

"""From the `data` section of a config to splits and transforms.

With no `data.path` the embedded synthetic dataset is generated (once, then cached) and
read back through the same CMD-layout reader as real data.

`load_data` only reads the config: the layout and normalisation it resolves (`auto`) are on
the data it returns, and transforms take the layout from there.

Example:
    >>> from sslskel.engine.config import DataConfig
    >>> t = build_transform(DataConfig(modality="bone", layout="ntu25"), train=False)
    >>> type(t).__name__
    'Compose'
    >>> build_transform(DataConfig(modality="bone"), train=False, layout="msr20").steps[-1]  # the data's
    ToModality(name='bone', layout='msr20')
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .checks import check_class_ids, scan_samples
from .container import SkeletonData
from .errors import DataFormatError
from .layouts import get_layout
from .normalize import check_prenormalized, normalize_skeletons, resolve_mode
from .readers import FORMATS_WITH_LAYOUT, load_split
from .splits import normalize_split
from .synthetic import SyntheticConfig, ensure_synthetic
from .transforms import Compose, ToModality
from .transforms import build_transform as build_preset


def load_data(data_cfg, split: str) -> SkeletonData:
    """The `split` ('train' or 'val') of the configured data, normalised and checked before any
    training step: non-empty, plausible class ids, finite coordinates, valid lengths; all-zero
    samples are warned about by name.

    `data_cfg` is only read. `data.layout: auto` and `data.normalize: auto` are resolved on the
    returned data: its `layout` is what the data is and its `normalization` what was applied.
    Transforms take the layout from there (`build_transform(..., layout=data.layout)`), and a
    run saves its config with both written in (`sslskel.engine.config.resolved_config`), so
    every later evaluation of the run reads its data the same way.
    """
    if data_cfg.path is None:
        synthetic = SyntheticConfig.from_mapping(data_cfg.synthetic)
        path = ensure_synthetic(benchmark=data_cfg.benchmark, config=synthetic)
        data = load_split(path, split)
        check_class_ids(data.labels, Path(path) / f"{normalize_split(split)}_label.pkl",
                        num_classes=synthetic.num_classes, dataset="the synthetic set (data.synthetic)",
                        names=data.names)
    else:
        data = load_split(data_cfg.path, split, benchmark=data_cfg.benchmark,
                          file_format=data_cfg.format)
    scan_samples(data, normalize_split(split))  # NaN / inf refused and empty samples named before step 1
    layout = data.layout if data_cfg.layout == "auto" else data_cfg.layout
    data = _adopt_layout(data, layout)
    if data.layout != layout:
        raise DataFormatError(data.source, "data.layout", f"the layout of the data, {data.layout} "
                              f"(set data.layout={data.layout} or auto)", repr(data_cfg.layout))
    # `auto` files taken as pre-normalised are checked to look it
    mode = resolve_mode(data_cfg.normalize, data.file_format)
    data = apply_normalization(data, mode, checked=data_cfg.normalize == "auto")
    return data.require_nonempty(split)


# arrays up to this size are normalised once, in memory; bigger ones sample by sample
EAGER_BYTES = 512 * 2**20


def _adopt_layout(data: SkeletonData, wanted: str) -> SkeletonData:
    """Array formats only give a joint count: take the config's layout if the count fits."""
    if (data.file_format not in FORMATS_WITH_LAYOUT and data.layout != wanted
            and get_layout(wanted).num_joints == get_layout(data.layout).num_joints):
        return replace(data, layout=wanted, index=data.index)
    return data


class SampleNormalizer:
    """One (C, T, V, M) sample at a time; a class, not a closure, so spawned loader workers
    can pickle it."""

    def __init__(self, layout, mode: str):
        self.layout, self.mode = layout, mode

    def __call__(self, x: np.ndarray, num_frames: int) -> np.ndarray:
        return normalize_skeletons(x[None], np.array([num_frames]), self.layout, self.mode)[0]


def apply_normalization(data: SkeletonData, mode: str, checked: bool = False) -> SkeletonData:
    """`data` normalised by `mode` (sslskel.data.normalize): in memory at once, memory maps
    sample by sample as they are read. `checked`: warn if files taken as pre-normalised
    do not look it."""
    if mode == "none":
        if checked:
            check_prenormalized(data, data.file_format)
        return replace(data, normalization="none", index=data.index)
    if data.shape[0] != 3:
        raise ValueError(f"{data.source}: data.normalize={mode} needs 3-D coordinates (C = 3); "
                         f"the data has C = {data.shape[0]}: set data.normalize=none")
    layout = get_layout(data.layout)
    if isinstance(data.data, np.memmap) or data.index is not None or data.data.nbytes > EAGER_BYTES:
        return replace(data, normalization=mode, sample_normalizer=SampleNormalizer(layout, mode),
                       index=data.index)
    array = normalize_skeletons(data.data, data.num_frames, layout, mode)
    return replace(data, data=array, normalization=mode, index=data.index)


def build_transform(data_cfg, train: bool, preset: str | None = None, eval_ratio: float = 0.95,
                    layout: str | None = None):
    """Augmentation preset (train) or centre crop (eval), then the modality conversion.

    `layout`: the joint order of the data to transform, its `SkeletonData.layout` (which
    `load_data` resolved); without it, `data_cfg.layout`, which must then name one.
    """
    if layout is None:
        if data_cfg.layout == "auto":
            raise ValueError("data.layout is 'auto': pass the data's layout (build_transform(..., "
                             "layout=data.layout), resolved by load_data)")
        layout = data_cfg.layout
    layout = get_layout(layout)
    if train:
        name = preset or data_cfg.augment
        # data.augment_args tune the pretraining preset; other presets (linear, fine-tune) take none
        args = data_cfg.augment_args if name == data_cfg.augment else {}
        steps = [build_preset(name, frames=data_cfg.frames, layout=layout, **args)]
    else:  # eval_crop by default; a feeder's own test view (ucla_feeder_eval) takes no ratio
        name = preset or "eval_crop"
        kwargs = {"ratio": eval_ratio} if name == "eval_crop" else {}
        steps = [build_preset(name, frames=data_cfg.frames, layout=layout, **kwargs)]
    if data_cfg.modality != "joint":
        steps.append(ToModality(data_cfg.modality, layout))
    return Compose(steps)

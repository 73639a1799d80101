"""From the `data` section of a config to splits and transforms.

With no `data.path` the embedded synthetic dataset is generated (once, then cached) and
read back through the same CMD-layout reader as real data.

Example:
    >>> from sslskel.engine.config import DataConfig
    >>> t = build_transform(DataConfig(modality="bone"), train=False)
    >>> type(t).__name__
    'Compose'
"""

from __future__ import annotations

from .container import SkeletonData
from .layouts import get_layout
from .transforms import Compose, ToModality, build_transform as build_preset


def load_data(data_cfg, split: str) -> SkeletonData:
    """The `split` ('train' or 'val') of the configured data, checked to be non-empty."""
    from .readers import load_split

    if data_cfg.path is None:
        from .synthetic import SyntheticConfig, ensure_synthetic

        synthetic = SyntheticConfig(num_classes=data_cfg.synthetic.num_classes,
                                    num_subjects=data_cfg.synthetic.num_subjects,
                                    seed=data_cfg.synthetic.seed)
        path = ensure_synthetic(benchmark=data_cfg.benchmark, config=synthetic)
        data = load_split(path, split)
    else:
        data = load_split(data_cfg.path, split, benchmark=data_cfg.benchmark,
                          file_format=data_cfg.format)
    if data.layout != data_cfg.layout:
        raise ValueError(f"{data.source}: data.layout: the config says {data_cfg.layout!r} but the "
                         f"data is {data.layout!r}; set data.layout={data.layout}")
    return data.require_nonempty(split)


def build_transform(data_cfg, train: bool, preset: str | None = None, eval_ratio: float = 0.95):
    """Augmentation preset (train) or centre crop (eval), then the modality conversion."""
    layout = get_layout(data_cfg.layout)
    if train:
        steps = [build_preset(preset or data_cfg.augment, frames=data_cfg.frames)]
    else:
        steps = [build_preset("eval_crop", frames=data_cfg.frames, ratio=eval_ratio)]
    if data_cfg.modality != "joint":
        steps.append(ToModality(data_cfg.modality, layout))
    return Compose(steps)

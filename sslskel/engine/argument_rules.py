"""What each argument of an augmentation preset and of an encoder may be, checked by name when
the config loads (`sslskel.engine.config.check_data_settings` / `check_encoder_args`): a NaN
angle, a negative noise, a crop [2, 1] or a GRU of width 0 fails at start-up naming
`data.augment_args.KEY` or `encoder.args.KEY`, not as a traceback in the first step.

Example:
    >>> PRESET_ARGUMENTS["crop"].test([0.5, 1.0]), PRESET_ARGUMENTS["crop"].test([2, 1])
    (True, False)
    >>> ENCODER_ARGUMENTS[int].expected
    'an integer >= 1'
"""

from __future__ import annotations

import math

from ..data.limits import MAX_FRAMES
from ..methods.settings import Rule, integer, number

__all__ = ["CROP", "ENCODER_ARGUMENTS", "PRESET_ARGUMENTS"]

# the value of every argument of every preset (sslskel.data.transforms.presets) but the ones
# data.frames / data.layout / data.modality set; checked when the config loads
CROP = Rule(lambda v: isinstance(v, (list, tuple)) and len(v) == 2
            and all(number(0, 1, open_low=True).test(x) for x in v) and v[0] <= v[1],
            "a pair [low, high] of fractions of the clip, 0 < low <= high <= 1")
PRESET_ARGUMENTS = {
    "min_frames": integer(1, MAX_FRAMES),  # the crop's floor
    "crop": CROP,
    "ratio": number(0, 1, open_low=True),  # eval_crop's centre crop
    "max_angle": number(0, math.pi),  # radians per axis
    "shear": number(0, 10),
    "corrupt_joints": number(0, 1),  # the fraction of the joints
    "p_corrupt": number(0, 1),
    "noise_std": number(0, 10),  # metres (or the data's unit)
    "bone_scale": number(0, 1, open_high=True),  # lengths scaled by U(1 - s, 1 + s): s < 1 keeps them > 0
    "blur_normalize": Rule(lambda v: isinstance(v, bool), "true or false"),
    "max_degrees": integer(0, 180),  # ucla_feeder_train's view angles, whole degrees
}

# encoder arguments by the type of their default: sizes and counts (hidden_size=0 crashed in
# the GRU), rates (dropout), switches; the encoder checks the rest itself
ENCODER_ARGUMENTS = {
    int: integer(1),
    float: number(0, 1, open_high=True),
    bool: Rule(lambda v: isinstance(v, bool), "true or false"),
    str: Rule(lambda v: isinstance(v, str), "a string"),
}

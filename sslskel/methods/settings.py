"""Range checks of settings dataclasses, written as a table: field -> rule.

Every settings dataclass (the engine's `data`, `optim`, `run`, `linear`, `finetune` sections
and the methods' `moco`, `halp`, `gcl`) checks its values in `__post_init__` with
`check_settings`, so a bad value fails when the config loads, naming the key and what it
must be. The rules test the value itself (a wrong type reads as a bad value), and a float
rule refuses NaN and infinity whatever its bounds. The engine imports this module too: it is the lowest layer
that every settings dataclass may import (methods < engine).

Scales (`SCALES`): whatever its own rule, a key named like a temperature (`temperature`,
`*_temperature`), a loss weight (`weight`, `*_weight`, `beta`, `*_beta`) or a learning rate
(`lr`) must also lie in a sane finite range, so 1e-45 or 1e308 fails at start-up, naming the
key, instead of overflowing in the first step.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Queue:
    ...     size: int = 8
    ...     temperature: float = 0.07
    ...     ks: tuple = (1, 20)
    ...     def __post_init__(self):
    ...         check_settings(self, {"size": integer(1), "temperature": number(0, open_low=True),
    ...                               "ks": each(integer(1))}, section="moco")
    >>> Queue(size=0)
    Traceback (most recent call last):
    ...
    ValueError: moco.size: expected an integer >= 1, got 0
    >>> Queue(temperature=float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: moco.temperature: expected a positive number, got nan
    >>> Queue(ks=(1, 0))
    Traceback (most recent call last):
    ...
    ValueError: moco.ks[1]: expected an integer >= 1, got 0
    >>> Queue(temperature=1e-45)
    Traceback (most recent call last):
    ...
    ValueError: moco.temperature: expected a number in [0.001, 100] (a temperature), got 1e-45
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

__all__ = ["LEARNING_RATE", "Rule", "SCALES", "TEMPERATURE", "WEIGHT", "check_settings", "each", "integer",
           "number", "one_of", "scale_rule"]


@dataclass(frozen=True)
class Rule:
    """A test of one setting's value and the words for what it must be."""

    test: Callable[[Any], bool]
    expected: str
    items: bool = False  # the test applies to every item of a list (named KEY[i])


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def integer(minimum: int, maximum: int | None = None) -> Rule:
    """An int (not a bool) >= `minimum` (and <= `maximum`, when given)."""
    if maximum is None:
        return Rule(lambda v: _is_int(v) and v >= minimum, f"an integer >= {minimum}")
    return Rule(lambda v: _is_int(v) and minimum <= v <= maximum, f"an integer in [{minimum}, {maximum}]")


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False,
           open_high: bool = False) -> Rule:
    """A finite int or float in the interval from `low` to `high` (None = unbounded)."""

    def test(v) -> bool:
        if not _is_number(v) or not math.isfinite(v):
            return False
        above = low is None or (v > low if open_low else v >= low)
        below = high is None or (v < high if open_high else v <= high)
        return above and below

    if low is not None and high is not None:
        expected = f"a number in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    elif low == 0 and open_low:
        expected = "a positive number"  # NaN and infinity are refused too: no rule takes them
    elif low is not None:
        expected = f"a number {'>' if open_low else '>='} {low}"
    elif high is not None:
        expected = f"a number {'<' if open_high else '<='} {high}"
    else:
        expected = "a finite number"
    return Rule(test, expected)


def one_of(values: Iterable[str]) -> Rule:
    """One of `values` (listed in the message in their order)."""
    values = tuple(values)
    return Rule(lambda v: v in values, f"one of {', '.join(values)}")


def each(rule: Rule) -> Rule:
    """`rule` for every item of a list; the message names the item as KEY[i]."""
    return Rule(rule.test, rule.expected, items=True)


def _scale(low: float, high: float, what: str, open_low: bool = False) -> Rule:
    inner = number(low, high, open_low=open_low)
    return Rule(inner.test, f"{inner.expected} ({what})")


# Sane ranges, far outside what any paper uses (temperatures 0.07-1, weights 0.5-5, lr 1e-4-30),
# close enough that a logit of 1/T or a weighted loss stays far from float32's 3.4e38.
TEMPERATURE = _scale(1e-3, 100, "a temperature")
WEIGHT = _scale(0, 1000, "a loss weight")
LEARNING_RATE = _scale(0, 100, "a learning rate", open_low=True)
# (name, rule): a key whose name is NAME or ends in _NAME gets the rule on top of its own
SCALES = (("temperature", TEMPERATURE), ("weight", WEIGHT), ("beta", WEIGHT), ("lr", LEARNING_RATE))


def scale_rule(key: str) -> Rule | None:
    """The sane range of a key named like a temperature, a loss weight or a learning rate."""
    return next((rule for name, rule in SCALES if key == name or key.endswith("_" + name)), None)


def check_settings(settings, rules: dict[str, Rule], section: str | None = None) -> None:
    """Raise a ValueError `SECTION.KEY: expected ..., got ...` for the first value of
    `settings` that breaks its rule (`section` None: the key alone, for a dataclass nested
    in several sections, whose loader adds the prefix). Keys named like a scale (`SCALES`)
    must also lie in its range."""
    prefix = f"{section}." if section else ""
    scales = [(f.name, scale_rule(f.name)) for f in dataclasses.fields(settings) if scale_rule(f.name)]
    for key, rule in [*rules.items(), *scales]:  # its own rule first: its message for a wrong sign
        value = getattr(settings, key)
        if not rule.items:
            named = [(key, value)]
        elif isinstance(value, (list, tuple)):
            named = [(f"{key}[{i}]", item) for i, item in enumerate(value)]
        else:
            raise ValueError(f"{prefix}{key}: expected a list of {rule.expected}, got {value!r}")
        for name, item in named:
            if not rule.test(item):
                raise ValueError(f"{prefix}{name}: expected {rule.expected}, got {item!r}")

"""Range checks of settings dataclasses, written as a table: field -> rule.

Every settings dataclass (the engine's `data`, `optim`, `run`, `linear`, `finetune` sections
and the methods' `moco`, `halp`, `gcl`) checks its values in `__post_init__` with
`check_settings`, so a bad value fails when the config loads, naming the key and what it
must be. The rules test the value itself (a wrong type reads as a bad value), and a float
rule refuses NaN and infinity whatever its bounds. The engine imports this module too: it is the lowest layer
that every settings dataclass may import (methods < engine).

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

__all__ = ["Rule", "check_settings", "each", "integer", "number", "one_of"]


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


def integer(minimum: int) -> Rule:
    """An int (not a bool) >= `minimum`."""
    return Rule(lambda v: _is_int(v) and v >= minimum, f"an integer >= {minimum}")


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


def check_settings(settings, rules: dict[str, Rule], section: str | None = None) -> None:
    """Raise a ValueError `SECTION.KEY: expected ..., got ...` for the first value of
    `settings` that breaks its rule (`section` None: the key alone, for a dataclass nested
    in several sections, whose loader adds the prefix)."""
    prefix = f"{section}." if section else ""
    for key, rule in rules.items():
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

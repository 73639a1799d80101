"""A setting of another method's section, named as such: `--method moco halp.mu=2` says that
`halp.*` needs `--method halp`, not that `halp` is an unknown key.

Each method brings its own config sections (`PretrainMethod.settings`: moco and halp for
halp). A top-level key that is no section of the chosen method but is one of another method's
is a user who forgot `--method`; `check_method_sections` says so, in the `unknown key '...'`
form `load_config` reports (naming the override or the file it came from).

Example:
    >>> check_method_sections(  # doctest: +ELLIPSIS
    ...     {"method": "moco", "halp": {"mu": 2}}, "moco")
    Traceback (most recent call last):
    ...
    sslskel.engine.config_tree.ConfigError: unknown key 'halp.mu' for method 'moco'; halp.* needs --method halp ...
"""

from __future__ import annotations

from ..methods import METHODS, method_class
from .config_tree import ConfigError


def section_owners() -> dict[str, list[str]]:
    """{config section: the methods that read it}, for every method's own sections."""
    owners: dict[str, list[str]] = {}
    for name in sorted(METHODS):
        for section in method_class(name).settings:
            owners.setdefault(section, []).append(name)
    return owners


def check_method_sections(tree: dict, method: str) -> None:
    """ConfigError for the first top-level key of `tree` that is a section of other methods only."""
    own = set(method_class(method).settings)
    owners = section_owners()
    for section, value in tree.items():
        if section in owners and section not in own:
            first = next(iter(value), None) if isinstance(value, dict) else None
            key = f"{section}.{first}" if first is not None else section
            which = owners[section][0] if len(owners[section]) == 1 else f"one of {', '.join(owners[section])}"
            raise ConfigError(f"unknown key '{key}' for method {method!r}; {section}.* needs --method {which} "
                              f"(method: {which})")

"""`--print-config`: the resolved config, each value with where it came from.

Every key of the config the run would use, as YAML, with a comment naming its source: the
default (`sslskel.engine.config`), the config file that set it (after `base:` inheritance,
`sslskel.engine.config_tree.read_config_file`) or the command line.

Example:
    >>> from sslskel.engine.config import load_config
    >>> text = describe_config(load_config(None, ["optim.lr=0.05"]), None, ["optim.lr=0.05"])
    >>> [line for line in text.splitlines() if line.strip().startswith(("lr:", "optim:"))][:2]
    ['optim:', '  lr: 0.05  # command line']
"""

from __future__ import annotations

import os

import yaml

from .config_tree import leaf_keys, parse_override, read_config_file, to_dict


def config_sources(path: str | os.PathLike | None, overrides: list[str] = ()) -> dict[str, str]:
    """{dotted key: the file or "command line" that set it}; keys set by neither are defaults."""
    sources = read_config_file(path)[1] if path is not None else {}
    for text in overrides:
        keys, value = parse_override(text)
        dotted = ".".join(keys)
        if isinstance(value, dict) and keys[-1] != "args":
            sources.update({f"{dotted}.{k}": "command line" for k in leaf_keys(value)})
        else:
            sources[dotted] = "command line"
    return sources


def _source_of(dotted: str, sources: dict[str, str]) -> str:
    # `encoder.args` is one value; a parent set whole (encoder={...}) covers its children
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        found = sources.get(".".join(parts[:i]))
        if found:
            return found
    return "default"


def _shown(source: str) -> str:
    """A file under the working directory as a relative path, anything else as it is."""
    if source in ("default", "command line"):
        return source
    relative = os.path.relpath(source)
    return source if relative.startswith("..") else relative


def describe_config(cfg, path: str | os.PathLike | None, overrides: list[str] = ()) -> str:
    """The resolved config as YAML, every value followed by `# its source`."""
    sources = config_sources(path, overrides)
    lines: list[str] = []

    def emit(tree: dict, prefix: str, indent: str) -> None:
        for key, value in tree.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, dict) and value and key != "args":
                lines.append(f"{indent}{key}:")
                emit(value, dotted + ".", indent + "  ")
                continue
            text = yaml.safe_dump({key: value}, default_flow_style=True, width=10_000).strip()[1:-1]
            lines.append(f"{indent}{text}  # {_shown(_source_of(dotted, sources))}")

    emit(to_dict(cfg), "", "")
    return "\n".join(lines) + "\n"

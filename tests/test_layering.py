"""One-way layering of the `sslskel` package, checked on the source with `ast` (nothing imported).

Layers, lowest first; a module may import its own package and any lower layer, never a higher one:

    errors  <  distributed  <  data  <  models, cluster  <  methods  <  common  <  engine  <  eval  <  report
            <  compare  <  cli

`common` (device, schedule, io, checkpoint, features, knn) holds what both `engine` and `eval`
need, so `data`, `models`, `cluster` and `methods` must not import it and it must not import
`engine` or `eval`. No `sslskel` import may sit inside a function or method body: an import
hidden there is how a cycle was dodged before; third-party imports inside functions (optional
packages such as faiss, geomstats, scipy, matplotlib) are fine.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sslskel"

LAYERS = {
    "errors": -1,  # sslskel/errors.py: the error classes, importable from every layer
    "distributed": -0.5,  # sslskel/distributed.py: which process this is, collectives (torch only)
    "data": 0,
    "models": 1,
    "cluster": 1,
    "methods": 2,
    "common": 3,
    "engine": 4,
    "eval": 5,
    "report": 6,
    "compare": 6.5,  # runs and tabulates studies of several runs
    "cli": 7,  # the `sslskel` commands: parse flags, call the layers below, print the next step
}

# packages whose modules may import their own package inside a function (none)
FUNCTION_IMPORTS_ALLOWED_WITHIN = ()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(path: Path, root: Path = ROOT) -> list[str]:
    """The package a relative import in `path` starts from."""
    return list(path.relative_to(root).parent.parts)


def sslskel_imports(path: Path, root: Path = ROOT):
    """(line, absolute module, inside a function) for every import of an sslskel module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
            targets = []
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package_of(path, root)
                    if child.level > 1:
                        base = base[:len(base) - (child.level - 1)]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                # `from sslskel import x` names the subpackage x itself
                targets = ([f"{module}.{a.name}" for a in child.names] if module == "sslskel"
                           else [module])
            elif isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            for target in targets:
                if target == "sslskel" or target.startswith("sslskel."):
                    found.append((child.lineno, target, inside))
            visit(child, inside)

    visit(tree, False)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def all_modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_every_subpackage_has_a_layer():
    unknown = [p.name for p in PACKAGE.iterdir()
               if (p.is_dir() and (p / "__init__.py").exists() or p.suffix == ".py")
               and p.stem not in LAYERS and p.name != "__init__.py"]
    assert not unknown, f"give these a layer in tests/test_layering.py: {unknown}"


def test_imports_point_down_the_layers():
    bad = []
    for path in all_modules():
        own = layer_of(module_name(path))
        if own is None:
            continue  # sslskel/__init__.py
        for line, target, _ in sslskel_imports(path):
            other = layer_of(target)
            if other is None or other == own:
                continue
            if LAYERS[other] >= LAYERS[own]:
                bad.append(f"{rel(path)}:{line}: {own} imports {target} ({other} is not below {own})")
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(set(bad)))


def test_engine_does_not_import_eval():
    bad = [f"{rel(p)}:{line}: imports {t}"
           for p in all_modules() if module_name(p).startswith("sslskel.engine")
           for line, t, _ in sslskel_imports(p) if layer_of(t) == "eval"]
    assert not bad, "sslskel.engine must not import sslskel.eval:\n" + "\n".join(bad)


def test_common_imports_neither_engine_nor_eval():
    bad = [f"{rel(p)}:{line}: imports {t}"
           for p in all_modules() if module_name(p).startswith("sslskel.common")
           for line, t, _ in sslskel_imports(p) if layer_of(t) in ("engine", "eval", "report")]
    assert not bad, "sslskel.common must import neither engine nor eval:\n" + "\n".join(bad)


def test_data_imports_only_data():
    bad = [f"{rel(p)}:{line}: imports {t}"
           for p in all_modules() if module_name(p).startswith("sslskel.data")
           for line, t, _ in sslskel_imports(p) if layer_of(t) not in ("data", "errors", "distributed", None)]
    assert not bad, ("sslskel.data must import only sslskel.data, sslskel.errors and sslskel.distributed:\n"
                     + "\n".join(bad))


def test_no_sslskel_import_inside_a_function():
    bad = []
    for path in all_modules():
        for line, target, inside in sslskel_imports(path):
            if not inside:
                continue
            own = layer_of(module_name(path))
            if own in FUNCTION_IMPORTS_ALLOWED_WITHIN and layer_of(target) == own:
                continue
            bad.append(f"{rel(path)}:{line}: imports {target} inside a function")
    assert not bad, ("sslskel imports belong at the top of the module:\n"
                     + "\n".join(sorted(set(bad))))


def test_the_checker_sees_relative_and_function_imports(tmp_path):
    """The parser itself: relative imports resolve, imports in methods count as inside."""
    pkg = tmp_path / "sslskel" / "engine"
    pkg.mkdir(parents=True)
    src = pkg / "x.py"
    src.write_text("from ..common.io import atomic_path\n"
                   "from . import config\n"
                   "import torch\n"
                   "class A:\n"
                   "    def f(self):\n"
                   "        from ..eval.knn import knn_accuracy\n"
                   "        import faiss\n")
    found = sslskel_imports(src, root=tmp_path)
    assert (1, "sslskel.common.io", False) in found
    assert (2, "sslskel.engine", False) in found
    assert (6, "sslskel.eval.knn", True) in found
    assert not any("torch" in t or "faiss" in t for _, t, _ in found)


# ----------------------------------------------------------------------------- engine and scripts

# What the engine may not name in its code (docstrings aside): a pretraining method or an
# auxiliary loss of the supervised stage. A method owns its rules; the engine drives any method.
METHOD_AND_AUXILIARY_NAMES = ("moco", "halp", "cvmim", "simclr", "vsimclr", "vmoco",  # METHODS
                              "gcl", "skeletongcl", "supcon", "vsupcon")  # auxiliary losses
# Where the engine names them today, name by name: the list may only shrink (each entry that
# is gone must leave this list too, so nothing comes back unseen).
KNOWN_ENGINE_NAMES: dict[str, list[str]] = {}  # none left: methods and auxiliary losses bring their own rules
SCRIPTS = ("pretrain/run.py", "linear_eval/run.py", "semi_sup/run.py", "supervised/run.py")


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _node_texts(node: ast.AST, docstrings: set[int]) -> list[str]:
    """The names and string constants a node writes (identifiers, attributes, imports, arguments)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.alias):
        return [node.name, node.asname or ""]
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.arg, ast.keyword)):
        return [node.arg or ""]
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
        return [node.value]
    return []


def names_in_code(source: str, names=METHOD_AND_AUXILIARY_NAMES) -> list[str]:
    """The `names` that the code of `source` uses as a word (`_` separates words), docstrings aside.

    >>> names_in_code('\"\"\"MoCo here is fine.\"\"\"\\nuse_gcl = cfg.moco.queue_size\\nx = "vmoco"')
    ['gcl', 'moco', 'vmoco']
    """
    pattern = re.compile(r"(?<![a-z0-9])(" + "|".join(sorted(names, key=len, reverse=True)) + r")(?![a-z0-9])")
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    return sorted({match for node in ast.walk(tree) for text in _node_texts(node, docstrings)
                   for match in pattern.findall(text.lower())})


def test_engine_names_no_method_or_auxiliary_loss():
    found = {rel(p): names_in_code(p.read_text()) for p in all_modules()
             if module_name(p).startswith("sslskel.engine")}
    found = {path: names for path, names in found.items() if names}
    new = {path: sorted(set(names) - set(KNOWN_ENGINE_NAMES.get(path, []))) for path, names in found.items()}
    new = {path: names for path, names in new.items() if names}
    assert not new, ("sslskel.engine names a method or an auxiliary loss (give the method a hook "
                     f"instead): {new}")
    gone = {path: sorted(set(names) - set(found.get(path, []))) for path, names in KNOWN_ENGINE_NAMES.items()}
    gone = {path: names for path, names in gone.items() if names}
    assert not gone, f"no longer named by the engine: remove them from KNOWN_ENGINE_NAMES: {gone}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_thin_and_import_no_script(script):
    """An entry-point script runs sslskel.cli: it defines nothing and imports no other script."""
    tree = ast.parse((ROOT / script).read_text())
    defined = [node.name for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert not defined, f"{script} defines {defined}: the logic belongs in sslskel/cli/"
    script_packages = {path.split("/")[0] for path in SCRIPTS} | {"benchmarks"}
    imported = [target for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for target in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])]
    bad = [target for target in imported if target.split(".")[0] in script_packages]
    assert not bad, f"{script} imports another script: {bad}"
    assert any(target.startswith("sslskel.cli") for target in imported), f"{script} does not call sslskel.cli"

"""The library stays readable in small pieces: no module over 400 lines, no function over 60."""

from __future__ import annotations

import ast

from support import REPO

MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 60


def modules():
    return sorted((REPO / "sslskel").rglob("*.py"))


def test_no_module_over_400_lines():
    long = {str(p.relative_to(REPO)): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES}
    assert not long, f"split these modules (lines): {long}"


def test_no_function_over_60_lines():
    long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(REPO)}:{node.lineno} {node.name}"] = lines
    assert not long, f"split these functions (lines, decorators aside): {long}"

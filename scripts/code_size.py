"""The longest files and functions of a package: ``python scripts/code_size.py spex_qgis``.

Prints the N longest files (lines) and functions (lines from ``def`` to the last line of the body,
decorators excluded); with ``--max-file`` / ``--max-function`` it exits 1 when one is longer.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from typing import List, Tuple


def python_files(folder: str) -> List[str]:
    """The ``.py`` files under ``folder`` (caches skipped), sorted; a file is its own list."""
    if os.path.isfile(folder):
        return [folder]
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        found += [os.path.join(dirpath, name) for name in sorted(filenames) if name.endswith(".py")]
    return found


def functions(path: str) -> List[Tuple[int, str]]:
    """(lines, "file:line qualified.name") of every function and method in ``path``."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=path)
    found = []

    def visit(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                found.append((child.end_lineno - child.lineno + 1, f"{path}:{child.lineno} {name}"))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    return found


def main(argv=None) -> int:
    """Print the report; 1 when a limit is exceeded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="packages, folders or single .py files")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--max-file", type=int, default=0, help="fail above this many lines per file")
    parser.add_argument("--max-function", type=int, default=0, help="fail above this many lines per function")
    args = parser.parse_args(argv)
    files, funcs = [], []
    for folder in args.folders:
        for path in python_files(folder):
            with open(path, encoding="utf-8") as handle:
                files.append((sum(1 for _ in handle), path))
            funcs += functions(path)
    files.sort(reverse=True)
    funcs.sort(reverse=True)
    print("longest files:")
    for lines, path in files[: args.top]:
        print(f"  {lines:5d}  {path}")
    print("longest functions:")
    for lines, where in funcs[: args.top]:
        print(f"  {lines:5d}  {where}")
    too_long = [p for n, p in files if args.max_file and n > args.max_file]
    too_long += [w for n, w in funcs if args.max_function and n > args.max_function]
    sys.stdout.flush()
    for item in too_long:
        print(f"over the limit: {item}", file=sys.stderr)
    return 1 if too_long else 0


if __name__ == "__main__":
    sys.exit(main())

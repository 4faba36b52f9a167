"""The package's layers: core -> data -> models -> align/adapt -> transfer/retrieval -> evaluate -> jobs -> cli.

A library layer never imports from a layer above it, and no two packages import each other.
Checked statically over every ``import xlt...`` / ``from xlt... import`` in the source, including
imports inside functions (which break the layering just as much)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "xlt"
LAYERS = {
    "core": 0,
    "data": 1,
    "models": 2,
    "align": 3,
    "adapt": 3,
    "lexicon": 3,
    "transfer": 4,
    "retrieval": 4,
    "evaluate": 5,
    "jobs": 6,
    "cli": 7,
}


def _package(module: str) -> str | None:
    """``xlt.data.readers`` -> ``data``; ``xlt`` itself -> None (the lazy public API)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "xlt" else None


def _imports() -> list[tuple[str, str, int, str]]:
    """``(importing package, imported package, line, file)`` for every xlt import in the source."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts == ("__init__.py",):
            continue  # `import xlt` re-exports names lazily from every layer, by design
        pkg = rel.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "xlt"]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                target = _package(name)
                if target and target != pkg:
                    out.append((pkg, target, node.lineno, str(rel)))
    return out


def test_every_package_has_a_layer():
    packages = {p.name.removesuffix(".py") for p in SRC.iterdir()
                if p.name != "__init__.py" and not p.name.startswith("__") and (p.is_dir() or p.suffix == ".py")}
    assert packages <= set(LAYERS), f"packages without a layer: {sorted(packages - set(LAYERS))}"


def test_no_library_layer_imports_upwards():
    bad = [f"{file}:{line}: {pkg} imports {target}" for pkg, target, line, file in _imports()
           if LAYERS[target] > LAYERS[pkg]]
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_package_cycles():
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for pkg, target, line, file in _imports():
        graph[pkg].add(target)
        where.setdefault((pkg, target), f"{file}:{line}")
    cycles = [f"{a} <-> {b} ({where[(a, b)]}, {where[(b, a)]})"
              for a in graph for b in graph[a] if a < b and a in graph.get(b, ())]
    assert not cycles, "packages importing each other:\n" + "\n".join(cycles)


@pytest.mark.parametrize("name", ["TaskDataset", "load_task", "read_dataset", "TaskModel", "zero_shot_transfer"])
def test_public_api_is_exported_from_xlt(name):
    import xlt

    assert name in xlt.__all__ and getattr(xlt, name) is not None


def test_building_the_command_line_imports_no_heavy_library():
    """Why imports of torch, transformers and the like sit inside functions (marked ``# lazy:``): the
    parser of every command is built without them, so ``xlt --help`` and a usage error take under a
    second, where importing torch and transformers alone takes ~3 s on the 2-core CI machine."""
    import subprocess
    import sys

    heavy = ["torch", "transformers", "tokenizers", "safetensors", "accelerate", "peft", "sklearn", "scipy",
             "matplotlib", "datasets", "lightgbm", "gensim", "faiss", "seqeval"]
    code = ("import sys\nfrom xlt.cli import build_parser\nbuild_parser()\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"building the parser imported {out}"

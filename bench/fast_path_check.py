"""Check: the SDK fast path (``tenantctl/sdk_fast.py``) changes nothing in a plan but the order of keys.

Generates a fleet (``bench/plan_fleet.py``'s mix: every tier), runs ``tenantctl plan`` on
it twice in fresh processes, with ``TENANTCTL_SDK_FAST_PATH=0`` (the SDK untouched) and
without, and compares plan.json and every manifest. Without the fast path a resource's
inputs come through a protobuf ``Struct``, whose map iterates in its hash table's order;
with it they keep the program's (``tenantctl/wire_values.py``). So a file may differ in
bytes only where the same keys of a mapping come in another order: parsed (JSON, or YAML
with its comment lines compared as text), both must hold the same keys, the same values
of the same types (a float is not an int) and lists in the same order. Exit 1 and the
paths that differ otherwise. ``tests/tenantctl/test_sdk_fast.py`` runs it on a small fleet.

    .venv/bin/python bench/fast_path_check.py --tenants 50
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.plan_fleet import generate  # noqa: E402
from tenantctl.sdk_fast import ENV  # noqa: E402


def plan(registry: Path, out: Path, *, fast: bool, workers: int | None = None) -> None:
    """``tenantctl plan`` of ``registry`` into ``out`` in a fresh process, with or without the fast path."""
    env = {**os.environ, ENV: "1" if fast else "0"}
    command = [sys.executable, "-m", "tenantctl", "plan", "--registry", str(registry), "--out", str(out)]
    if workers is not None:
        command += ["--workers", str(workers)]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if run.returncode not in (0, 1):  # 1: policy violations, still planned
        raise RuntimeError(f"plan failed ({run.returncode}):\n{run.stderr[-2000:]}")


def files(out: Path) -> dict[str, bytes]:
    """Every file a plan wrote (plan.json and the manifests), by path relative to ``out``."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@dataclass
class Comparison:
    """Files of two plans: how many, how many byte for byte the same, which differ otherwise."""

    compared: int
    identical: int
    differ: list[str]


def differences(tenants: int, directory: Path, cells: int | None = None,
                workers: int | None = None) -> Comparison:
    """Plan a generated fleet both ways and compare what they wrote."""
    registry = directory / "registry"
    registry.mkdir()
    generate(registry, tenants, cells)
    planned = {}
    for fast in (False, True):
        out = directory / ("fast" if fast else "sdk")
        plan(registry, out, fast=fast, workers=workers)
        planned[fast] = files(out)
    return compare(planned[False], planned[True])


def compare(one: dict[str, bytes], other: dict[str, bytes]) -> Comparison:
    """Paths that only one plan wrote, or whose contents differ beyond the order of a mapping's keys."""
    differ = []
    identical = 0
    for path in sorted(one.keys() | other.keys()):
        a, b = one.get(path), other.get(path)
        if a == b:
            identical += 1
        elif a is None or b is None or not same_content(path, a, b):
            differ.append(path)
    return Comparison(len(one.keys() | other.keys()), identical, differ)


def same_content(path: str, a: bytes, b: bytes) -> bool:
    """The same document up to the order of mapping keys (a YAML file's comments compared as text)."""
    if path.endswith(".json"):
        return same(json.loads(a), json.loads(b))
    comments = [[line for line in text.decode().splitlines() if line.startswith("#")] for text in (a, b)]
    return comments[0] == comments[1] and same(list(yaml.safe_load_all(a)), list(yaml.safe_load_all(b)))


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down, mappings in any key order, lists in order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def main() -> None:
    """Print how many files were compared and which differ; exit 1 if any does."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=25)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = differences(args.tenants, Path(tmp), workers=args.workers)
    print(f"{found.compared} files compared: {found.identical} byte for byte the same, "
          f"{found.compared - found.identical - len(found.differ)} the same up to the order of keys, "
          f"{len(found.differ)} differ")
    for path in found.differ[:50]:
        print(f"  {path}")
    sys.exit(1 if found.differ or not found.compared else 0)


if __name__ == "__main__":
    main()

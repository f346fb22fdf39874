"""Check: the SDK fast path (``tenantctl/sdk_fast.py``) changes no byte of a plan.

Generates a fleet (``bench/plan_fleet.py``'s mix: every tier), runs ``tenantctl plan`` on
it twice in fresh processes, with ``TENANTCTL_SDK_FAST_PATH=0`` (the SDK untouched) and
without, and compares plan.json and every manifest byte for byte. Exit 1 and the paths
that differ if anything does. ``tests/tenantctl/test_sdk_fast.py`` runs it on a small fleet.

    .venv/bin/python bench/fast_path_check.py --tenants 50
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

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


def differences(tenants: int, directory: Path, cells: int | None = None,
                workers: int | None = None) -> tuple[int, list[str]]:
    """Plan a generated fleet both ways: (files compared, paths that differ or exist once)."""
    registry = directory / "registry"
    registry.mkdir()
    generate(registry, tenants, cells)
    planned = {}
    for fast in (False, True):
        out = directory / ("fast" if fast else "sdk")
        plan(registry, out, fast=fast, workers=workers)
        planned[fast] = files(out)
    return len(planned[False]), compare(planned[False], planned[True])


def compare(one: dict[str, bytes], other: dict[str, bytes]) -> list[str]:
    """Paths whose bytes differ, or that only one of two plans wrote."""
    return sorted(p for p in one.keys() | other.keys() if one.get(p) != other.get(p))


def main() -> None:
    """Print how many files were compared and which differ; exit 1 if any does."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=25)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        compared, differ = differences(args.tenants, Path(tmp), workers=args.workers)
    print(f"{compared} files compared, {len(differ)} differ")
    for path in differ[:50]:
        print(f"  {path}")
    sys.exit(1 if differ or not compared else 0)


if __name__ == "__main__":
    main()

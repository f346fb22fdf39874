"""Demo: a generated fleet planned whole, then in N shards as separate processes, merged and compared.

Each shard is its own ``tenantctl plan --shard K/N`` process, as on its own CI runner; the
merge is ``tenantctl merge-plans --no-manifests``, as in the gate's workflow. The merged
plan must equal the whole plan (every stack, resource and violation) and give the same
verdict. Shards run one after the other by default, so each one's time is what a runner of
its own would take (``--parallel`` runs them at once, which on a machine with fewer cores
than shards measures the machine).

    .venv/bin/python bench/shard_demo.py --tenants 100 --cells 4 --shards 4
"""

from __future__ import annotations

import argparse
import json
import subprocess  # noqa: S404 - our own tenantctl, fixed arguments
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.plan_fleet import generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def tenantctl(*argv: str) -> subprocess.Popen[str]:
    """Start ``tenantctl`` from this checkout (not an installed one)."""
    return subprocess.Popen([sys.executable, "-m", "tenantctl", *argv], cwd=ROOT,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def timed(*argv: str) -> tuple[int, float, str]:
    """Run ``tenantctl`` to the end: exit code, seconds, stdout."""
    started = time.perf_counter()
    proc = tenantctl(*argv)
    out, err = proc.communicate()
    if proc.returncode not in (0, 1):
        sys.exit(f"tenantctl {' '.join(argv)} failed ({proc.returncode}): {err.strip()[-800:]}")
    return proc.returncode, time.perf_counter() - started, out


def spread(registry: Path, tenants: int, cells: int) -> None:
    """Cap the cells so the generated shared tenants fill all of them evenly (not the first one)."""
    platform = registry / "_platform.yaml"
    settings = yaml.safe_load(platform.read_text())
    settings["cell_capacity"] = max(1, -(-tenants // cells))
    platform.write_text(yaml.safe_dump(settings))


def main() -> int:
    """Plan whole, plan in shards, merge, compare; print the figures; exit 1 if they differ."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--no-policy", action="store_true")
    parser.add_argument("--parallel", action="store_true", help="run the shards at once")
    args = parser.parse_args()
    policy = ["--no-policy"] if args.no_policy else []
    with tempfile.TemporaryDirectory(prefix="shard-demo-") as tmp:
        work = Path(tmp)
        registry = work / "registry"
        registry.mkdir()
        generate(registry, args.tenants, args.cells)
        spread(registry, args.tenants, args.cells)
        common = ["--registry", str(registry), *policy]
        whole_code, whole_s, _ = timed("plan", *common, "--out", str(work / "whole"))
        _, _, matrix = timed("plan", *common, "--matrix", "--shards", str(args.shards))
        print(f"fleet: {args.tenants} tenants, {args.cells} cells; shards: {matrix.strip()}")
        print(f"whole plan: {whole_s:.1f}s (exit {whole_code})")
        shard_argv = [("plan", *common, "--shard", f"{k}/{args.shards}", "--out", str(work / f"s{k}"))
                      for k in range(1, args.shards + 1)]
        started = time.perf_counter()
        if args.parallel:
            procs = [(tenantctl(*a), time.perf_counter()) for a in shard_argv]
            times = []
            for proc, began in procs:
                proc.communicate()
                times.append(time.perf_counter() - began)
        else:
            times = [timed(*a)[1] for a in shard_argv]
        all_shards_s = time.perf_counter() - started
        for k, seconds in enumerate(times, start=1):
            print(f"  shard {k}/{args.shards}: {seconds:.1f}s")
        # As the gate's merge job runs it: the verdict and the diff read plan.json only.
        merge_code, merge_s, _ = timed("merge-plans", str(work / "merged"),
                                       *(str(work / f"s{k}") for k in range(1, args.shards + 1)),
                                       "--shards", str(args.shards), "--no-manifests")
        how = "at once" if args.parallel else "in turn"
        print(f"merge: {merge_s:.1f}s (exit {merge_code}); shards {how}: {all_shards_s:.1f}s; "
              f"slowest shard + merge: {max(times) + merge_s:.1f}s "
              f"vs whole {whole_s:.1f}s")
        whole = json.loads((work / "whole" / "plan.json").read_text())
        merged = json.loads((work / "merged" / "plan.json").read_text())
        same = whole["stacks"] == merged["stacks"] and whole_code == merge_code
        mandatory = sum(v["enforcement"] == "mandatory" for s in merged["stacks"] for v in s["violations"])
        print(f"merged plan == whole plan: {same} ({len(merged['stacks'])} stacks, "
              f"{sum(len(s['resources']) for s in merged['stacks'])} resources, {mandatory} mandatory "
              f"violation(s), verdict exit {merge_code})")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

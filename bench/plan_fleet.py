"""Benchmark: how long the offline plan takes for a generated fleet of N tenants.

Prints, per run, the stacks, resources and seconds, then the median. Not a test: the figures
are for the closing notes and for sizing cells (large stacks are slow in the real engine too:
cells bound them).

    .venv/bin/python bench/plan_fleet.py --tenants 200 --runs 3
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tenantctl import planner  # noqa: E402
from tenants.loader import load_registry  # noqa: E402
from tenants.stacks import fleet_stacks  # noqa: E402

TIERS = ["namespace", "namespace", "namespace", "node", "vcluster", "cluster"]
PLANS = ["starter", "standard", "enterprise"]


SAMPLE_PLATFORM = Path(__file__).resolve().parents[1] / "tenants" / "registry" / "_platform.yaml"


def generate(directory: Path, tenants: int, cells: int) -> None:
    """Write a registry of ``tenants`` tenants over ``cells`` cells.

    Released images and deploy runners are the sample fleet's, so the generated stacks
    carry everything a real one does.
    """
    sample = yaml.safe_load(SAMPLE_PLATFORM.read_text())
    platform = {"cells": [{"name": f"bench-{i:02d}", "region": "ap-northeast-1",
                           "vpc_cidr": f"10.{i}.0.0/16"} for i in range(cells)],
                "dedicated_cidr_pool": "10.128.0.0/9", "dedicated_prefix": 20,
                **{key: sample[key] for key in ("images", "deploy_runners", "platform_account",
                                                "availability_zones", "account_quotas")}}
    (directory / "_platform.yaml").write_text(yaml.safe_dump(platform))
    for i in range(tenants):
        tenant_id = f"bench-{i:04d}"
        record = {"id": tenant_id, "tier": TIERS[i % len(TIERS)], "plan": PLANS[i % len(PLANS)]}
        if record["tier"] == "cluster":
            record["account"] = f"{800000000000 + i}"  # each dedicated tenant in its own account
        (directory / f"{tenant_id}.yaml").write_text(yaml.safe_dump(record))


def main() -> None:
    """Generate the fleet once, plan it ``--runs`` times, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-policy", action="store_true")
    args = parser.parse_args()
    cells = max(1, -(-args.tenants // 100))
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), args.tenants, cells)
        started = time.perf_counter()
        registry = load_registry(Path(tmp))
        print(f"load+validate {args.tenants} tenants: {time.perf_counter() - started:.2f}s")
        specs = fleet_stacks(registry)
        timings = []
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            plans = planner.plan_stacks(specs, policies=not args.no_policy)
            seconds = time.perf_counter() - started
            timings.append(seconds)
            resources = sum(len(p.resources) for p in plans)
            print(f"run {run}: {len(plans)} stacks, {resources} resources, {seconds:.2f}s "
                  f"({1000 * seconds / max(resources, 1):.2f} ms/resource)")
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"median of {args.runs}: {statistics.median(timings):.2f}s; peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()

"""Benchmark: how long ``tenantctl plan`` takes for generated fleets, against the SDK's floor.

For each fleet size, a registry is generated (mostly ``namespace`` tenants, some ``node``,
``vcluster`` and ``cluster``; cells of the platform's default capacity), then each run
times the whole command as a user runs it (``python -m tenantctl plan``: loading and
validating the registry, planning every stack, writing plan.json and manifests) and, in
the same run, the bare SDK floor for as many resources (``bench/sdk_floor.py``). Memory is
the peak of the whole process tree (the command and its workers), summed as proportional
set size so that pages the forked workers share are counted once. The table holds medians.
Not a test: the figures are for the closing notes and docs/performance.md.

    .venv/bin/python bench/plan_fleet.py --sizes 50,100 --runs 3
    .venv/bin/python bench/plan_fleet.py --sizes 100 --runs 1 --profile out/profile.txt
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tenants.models import PlatformSettings  # noqa: E402
from tenants.quotas import STACK_FOOTPRINT, QuotaLimits  # noqa: E402

#: The tier of tenant i is MIX[i % len(MIX)]: 75% namespace, 10% node, 10% vcluster,
#: 5% cluster, interleaved so that even a small fleet has every tier.
MIX = ["namespace", "namespace", "node", "namespace", "namespace", "vcluster", "namespace",
       "namespace", "cluster", "namespace", "namespace", "namespace", "namespace", "node",
       "namespace", "namespace", "vcluster", "namespace", "namespace", "namespace"]
PLANS = ["starter", "standard", "enterprise"]
SAMPLE_PLATFORM = ROOT / "tenants" / "registry" / "_platform.yaml"
#: Tenants per cell: the platform's default cell capacity.
CELL_TENANTS: int = PlatformSettings.model_fields["cell_capacity"].default


def cells_for(tenants: int) -> int:
    """Cells enough for the shared-tier tenants of a generated fleet of ``tenants``."""
    shared = sum(MIX[i % len(MIX)] != "cluster" for i in range(tenants))
    return max(1, -(-shared // CELL_TENANTS))


def raised_quotas(sample: dict, cells: int) -> dict:
    """The sample's ``account_quotas``, the platform account's raised to hold ``cells`` cells.

    Every cell is in the platform account and one region; a fleet of thousands of tenants
    has tens of cells there, more than the sample's quotas allow, and an operator running
    it would have raised them with AWS and recorded them, as this does.
    """
    quotas = {**sample["account_quotas"], "accounts": dict(sample["account_quotas"].get("accounts", {}))}
    account = str(sample["platform_account"])
    recorded = quotas["accounts"].get(account, {})
    limits = QuotaLimits(**recorded)  # what is recorded, the AWS defaults for the rest
    needed = {quota: per_stack * cells for quota, per_stack in STACK_FOOTPRINT.items()}
    quotas["accounts"][account] = {**recorded, **{quota: use for quota, use in needed.items()
                                                  if use > getattr(limits, quota)}}
    return quotas


def generate(directory: Path, tenants: int, cells: int | None = None) -> None:
    """Write a registry of ``tenants`` tenants over ``cells`` cells (default: enough).

    Released images and deploy runners are the sample fleet's, so the generated stacks
    carry everything a real one does.
    """
    cells = cells_for(tenants) if cells is None else cells
    sample = yaml.safe_load(SAMPLE_PLATFORM.read_text())
    platform = {"cells": [{"name": f"bench-{i:02d}", "region": "ap-northeast-1",
                           "vpc_cidr": f"10.{i}.0.0/16"} for i in range(cells)],
                "dedicated_cidr_pool": "10.128.0.0/9", "dedicated_prefix": 20,
                **{key: sample[key] for key in ("images", "deploy_runners", "platform_account",
                                                "availability_zones")},
                "account_quotas": raised_quotas(sample, cells)}
    # The shared tenants' hosts are in the platform's zone; a dedicated tenant's host needs
    # a zone delegated into its own account (without one its DNS roles would be open-ended
    # and the policy pack rejects them, as it should).
    zones = [{"domain": "files.example.com", "zone_id": "Z0BENCHFILES",
              "account": sample["platform_account"]}]
    for i in range(tenants):
        tenant_id = f"bench-{i:04d}"
        record = {"id": tenant_id, "tier": MIX[i % len(MIX)], "plan": PLANS[i % len(PLANS)]}
        if record["tier"] == "cluster":
            record["account"] = f"{800000000000 + i}"  # each dedicated tenant in its own account
            zones.append({"domain": f"{tenant_id}.files.example.com", "zone_id": f"Z0BENCH{i:04d}",
                          "account": record["account"]})
        (directory / f"{tenant_id}.yaml").write_text(yaml.safe_dump(record))
    (directory / "_platform.yaml").write_text(yaml.safe_dump({**platform, "hosted_zones": zones}))


@dataclass
class Measured:
    """One command's wall time and the peak memory of its process tree."""

    seconds: float
    peak_bytes: int
    stdout: str
    #: CPU seconds (user + system) of the whole tree: on a shared machine, steadier than wall time.
    cpu_seconds: float = 0.0


def _tree_memory(process: psutil.Process) -> int:
    """Memory of a process and all its descendants now: the sum of their PSS (RSS if unreadable)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            info = member.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


def measure(command: Sequence[str], interval: float = 0.25) -> Measured:
    """Run ``command``; its wall time and the peak memory of its tree, sampled every ``interval``."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    popen = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,  # noqa: S603 - our own commands
                             stderr=subprocess.PIPE, text=True)
    process = psutil.Process(popen.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, _tree_memory(process))
            except psutil.NoSuchProcess:
                return
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = popen.communicate()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command waited for its workers
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    done.set()
    sampler.join()
    if popen.returncode not in (0, 1):  # 1: the fleet has policy violations, still planned
        raise RuntimeError(f"{' '.join(command)} failed ({popen.returncode}):\n{stderr[-2000:]}")
    return Measured(seconds, peak, stdout, cpu)


@dataclass
class Row:
    """One fleet size's medians."""

    tenants: int
    stacks: int
    resources: int
    seconds: float
    peak_mib: float
    floor_seconds: float
    runs: int
    cpu_seconds: float

    def markdown(self) -> str:
        """The row of the results table."""
        ms = 1000 * self.seconds / max(self.resources, 1)
        return (f"| {self.tenants} | {self.stacks} | {self.resources} | {self.seconds:.1f} | "
                f"{self.cpu_seconds:.1f} | {self.peak_mib:.0f} | {ms:.2f} | {self.floor_seconds:.1f} | "
                f"{self.seconds / self.floor_seconds:.2f} | {self.runs} |")


HEADER = ("| tenants | stacks | resources | wall s | CPU s (tree) | peak MiB (tree) | ms/resource | "
          "SDK floor s | ratio | runs |\n|---|---|---|---|---|---|---|---|---|---|")


def bench_size(tenants: int, runs: int, workers: int | None, no_floor: bool) -> Row:
    """Generate a fleet of ``tenants``; plan it and run the floor ``runs`` times; the medians."""
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp) / "registry"
        registry.mkdir()
        generate(registry, tenants)
        command = [python, "-m", "tenantctl", "plan", "--registry", str(registry),
                   "--out", str(Path(tmp) / "out"), "--json"]
        if workers is not None:
            command += ["--workers", str(workers)]
        walls, peaks, floors, cpus = [], [], [], []
        stacks = resources = 0
        for run in range(1, runs + 1):
            plan = measure(command)
            summary = json.loads(plan.stdout)
            stacks = len(summary["stacks"])
            resources = sum(s["resources"] for s in summary["stacks"])
            walls.append(plan.seconds)
            cpus.append(plan.cpu_seconds)
            peaks.append(plan.peak_bytes / 2**20)
            floor = (measure([python, str(ROOT / "bench" / "sdk_floor.py"), str(resources)]).seconds
                     if not no_floor else float("nan"))
            floors.append(floor)
            print(f"  {tenants} tenants, run {run}: {stacks} stacks, {resources} resources, "
                  f"{plan.seconds:.1f}s ({plan.cpu_seconds:.1f}s CPU), {plan.peak_bytes / 2**20:.0f} MiB; "
                  f"floor {floor:.1f}s",
                  file=sys.stderr, flush=True)
    return Row(tenants, stacks, resources, statistics.median(walls), statistics.median(peaks),
               statistics.median(floors), runs, statistics.median(cpus))


def bench_one_tenant(tenants: int, runs: int, workers: int | None) -> list[str]:
    """``plan --tenant ID`` in a generated fleet of ``tenants``: a tenant of a full cell and a dedicated one.

    The whole command (start, loading and validating the registry, planning the tenant's
    stack, writing), medians of ``runs``; one line each.
    """
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp) / "registry"
        registry.mkdir()
        generate(registry, tenants)
        chosen = {"namespace": "bench-0000", "cluster": f"bench-{MIX.index('cluster'):04d}"}
        for tier, tenant in chosen.items():
            command = [sys.executable, "-m", "tenantctl", "plan", "--registry", str(registry),
                       "--tenant", tenant, "--out", str(Path(tmp) / tier), "--json"]
            if workers is not None:
                command += ["--workers", str(workers)]
            walls, cpus, peaks = [], [], []
            resources = 0
            for _ in range(runs):
                plan = measure(command)
                resources = sum(s["resources"] for s in json.loads(plan.stdout)["stacks"])
                walls.append(plan.seconds)
                cpus.append(plan.cpu_seconds)
                peaks.append(plan.peak_bytes / 2**20)
            lines.append(f"| {tenants} | {tenant} ({tier}) | {resources} | {statistics.median(walls):.1f} | "
                         f"{min(walls):.1f}-{max(walls):.1f} | {statistics.median(cpus):.1f} | "
                         f"{statistics.median(peaks):.0f} | {runs} |")
            times = ", ".join(f"{w:.1f}s" for w in walls)
            print(f"  --tenant {tenant}: {times}", file=sys.stderr, flush=True)
    return lines


ONE_HEADER = ("| fleet | tenant | stack resources | wall s | range s | CPU s (tree) | peak MiB (tree) | "
              "runs |\n|---|---|---|---|---|---|---|---|")


def profile(tenants: int, out: Path) -> None:
    """Plan a generated fleet in this process under cProfile; write the top functions to ``out``.

    In-process and serial (``workers=1``) so that one profile covers everything; the time
    spent by the garbage collector is measured with ``gc.callbacks`` and printed first.
    """
    import cProfile
    import gc
    import io
    import pstats

    from tenantctl import planner
    from tenants.loader import load_registry
    from tenants.stacks import fleet_stacks

    collections: dict[int, float] = {0: 0.0, 1: 0.0, 2: 0.0}
    started_at: list[float] = [0.0]

    def timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started_at[0] = time.perf_counter()
        else:
            collections[info["generation"]] += time.perf_counter() - started_at[0]

    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), tenants)
        profiler = cProfile.Profile()
        gc.callbacks.append(timer)
        profiler.enable()
        phases = {}
        clock = time.perf_counter()
        specs = fleet_stacks(load_registry(Path(tmp)))
        phases["load+validate"] = time.perf_counter() - clock
        clock = time.perf_counter()
        plans = planner.plan_stacks(specs, workers=1)
        phases["plan"] = time.perf_counter() - clock
        clock = time.perf_counter()
        planner.write_plan(plans, Path(tmp) / "out")
        phases["write"] = time.perf_counter() - clock
        profiler.disable()
        gc.callbacks.remove(timer)
    text = io.StringIO()
    resources = sum(len(p.resources) for p in plans)
    print(f"{tenants} tenants, {len(plans)} stacks, {resources} resources (under cProfile)", file=text)
    print("phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in phases.items()), file=text)
    print("gc: " + ", ".join(f"gen{g} {s:.1f}s" for g, s in collections.items()), file=text)
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(50)
    stats.sort_stats("tottime").print_stats(30)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.getvalue())
    print(f"wrote {out}", file=sys.stderr)


def main() -> None:
    """Print the table of medians for every size (or write a profile with ``--profile``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,100,250,500", help="fleet sizes in tenants, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None,
                        help="tenantctl plan --workers (default: its own)")
    parser.add_argument("--no-floor", action="store_true", help="skip the SDK floor runs")
    parser.add_argument("--one-tenant", type=int, metavar="TENANTS",
                        help="instead, time `plan --tenant ID` in a generated fleet of this size")
    parser.add_argument("--profile", type=Path,
                        help="profile the first size in-process; write the stats here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.profile is not None:
        profile(sizes[0], args.profile)
        return
    if args.one_tenant is not None:
        print(ONE_HEADER, flush=True)
        for line in bench_one_tenant(args.one_tenant, args.runs, args.workers):
            print(line, flush=True)
        return
    print(HEADER, flush=True)
    for size in sizes:  # each row as soon as it is measured: the largest sizes take minutes
        print(bench_size(size, args.runs, args.workers, args.no_floor).markdown(), flush=True)


if __name__ == "__main__":
    main()

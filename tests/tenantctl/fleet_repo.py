"""A copy of the fixture fleet to change, optionally inside a git repository of its own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import FIXTURE_FLEET

#: A second, empty cell and the quota two cells need: lets a test move a tenant between cells.
SECOND_CELL = "  - {name: f2, region: ap-northeast-1, vpc_cidr: 10.1.0.0/16}\n"
TWO_CELL_QUOTA = ('account_quotas:\n  accounts:\n'
                  '    "123456789012": {vpcs_per_region: 10, elastic_ips_per_region: 20}\n')


def copy_fleet(directory: Path) -> Path:
    """The fixture fleet copied to ``directory`` (returned)."""
    shutil.copytree(FIXTURE_FLEET, directory)
    return directory


def add_second_cell(registry: Path) -> None:
    """Add cell f2 (empty) to a copied fleet."""
    platform = registry / "_platform.yaml"
    text = platform.read_text()
    first = "  - {name: f1, region: ap-northeast-1, vpc_cidr: 10.0.0.0/16}\n"
    platform.write_text(text.replace(first, first + SECOND_CELL) + TWO_CELL_QUOTA)


def move_to_f2(registry: Path, tenant: str) -> None:
    """Move a shared-tier tenant to cell f2: its file and its ledger entry."""
    with (registry / f"{tenant}.yaml").open("a") as f:
        f.write("cell: f2\n")
    ledger = registry / "_allocations.yaml"
    ledger.write_text(ledger.read_text().replace(f"{tenant}:\n    cell: f1", f"{tenant}:\n    cell: f2"))


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (a fixed identity); its output."""
    run = subprocess.run(["git", "-C", str(repo), "-c", "user.email=gate@test.invalid",
                          "-c", "user.name=gate test", *args], capture_output=True, text=True, check=True)
    return run.stdout


def commit_all(repo: Path, message: str = "base") -> str:
    """Commit everything in ``repo`` (made a repository if it is not one); the commit id."""
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    (repo / ".gitignore").write_text("/out/\n/cache/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()

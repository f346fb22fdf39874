"""The pull-request gate's preview selection: which planned stacks a change really alters.

CI plans offline only the stacks a change can touch (``tenantctl plan --changed-since``,
docs/gate.md), on the pull request and on its base, possibly in shards merged into one
plan (``tenantctl merge-plans``); of those, it previews with the real engine only the
stacks whose planned resources differ. A stack the head plan does not hold was not
selected and is not previewed. A change to the policy pack itself touches every planned
stack (the same resources may now pass or fail), and without a base plan (first run,
base not plannable) every planned stack is previewed.

``python -m policy.gate --head out/plan/plan.json --base base/plan.json
--changed-files changed.txt`` prints the JSON list of stack names (and writes
``stacks=<json>`` to ``$GITHUB_OUTPUT`` with ``--github-output``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: Paths whose change re-evaluates every stack.
EVERY_STACK_PATHS = ("policy/",)


def _stacks(document: Mapping[str, Any]) -> dict[str, str]:
    """Stack name -> canonical JSON of its resources."""
    stacks = document.get("stacks")
    if not isinstance(stacks, list):
        raise ValueError("plan.json has no 'stacks' list")
    return {s["name"]: json.dumps(s.get("resources"), sort_keys=True) for s in stacks}


def changed_stacks(head: Mapping[str, Any], base: Mapping[str, Any] | None,
                   changed_files: Iterable[str] = ()) -> list[str]:
    """The head plan's stacks a change touches, sorted."""
    head_stacks = _stacks(head)
    if base is None or any(f.startswith(EVERY_STACK_PATHS) for f in changed_files):
        return sorted(head_stacks)
    base_stacks = _stacks(base)
    return sorted(name for name, body in head_stacks.items() if base_stacks.get(name) != body)


def _read(path: Path | None) -> Mapping[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Print the stacks to preview."""
    parser = argparse.ArgumentParser(prog="python -m policy.gate", description=__doc__.split("\n")[0])
    parser.add_argument("--head", type=Path, required=True, help="plan.json of the pull request")
    parser.add_argument("--base", type=Path, help="plan.json of the base branch (missing: all stacks)")
    parser.add_argument("--changed-files", type=Path, help="file listing changed paths, one a line")
    parser.add_argument("--github-output", action="store_true",
                        help="also write stacks=... to $GITHUB_OUTPUT")
    args = parser.parse_args(argv)
    head = _read(args.head)
    if head is None:
        parser.error(f"{args.head} is not a readable plan.json")
    files = args.changed_files.read_text().split() if args.changed_files else []
    stacks = json.dumps(changed_stacks(head, _read(args.base), files))
    print(stacks)
    if args.github_output:
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
            out.write(f"stacks={stacks}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

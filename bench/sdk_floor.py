"""The bare Pulumi SDK's floor: register N small custom resources under mocks, in one process.

Whatever the offline plan does per resource beyond this (the real program's components
and outputs, the recording monitor, the policy pack, plan.json and manifests) is ours; this
is what the SDK alone costs. ``bench/plan_fleet.py`` runs it beside each plan and prints
the ratio.

    .venv/bin/python bench/sdk_floor.py 10000
"""

from __future__ import annotations

import sys
from typing import Any

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await


class _Echo(pulumi.runtime.Mocks):
    """Outputs are the inputs, as for most resources under the planner's mocks."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        return {}


def register(count: int) -> None:
    """Declare ``count`` resources with a few small inputs each and wait for all of them."""
    pulumi.runtime.set_mocks(_Echo(), project="floor", stack="floor", preview=False)

    def body() -> None:
        for i in range(count):
            pulumi.CustomResource("floor:index:Thing", f"thing-{i}",
                                  {"name": f"thing-{i}", "size": i, "labels": {"app": "floor"}})

    _sync_await(run_pulumi_func(body))


if __name__ == "__main__":
    register(int(sys.argv[1]))

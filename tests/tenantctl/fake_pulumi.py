"""A Pulumi CLI stand-in injected through the Automation API's own seam (PulumiCommand).

It records every call and answers like the CLI would: stack selection, config, and the
event log with a summary event that ``preview`` reads. Scripted failures let tests drive
locked stacks and failed updates.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pulumi.automation import CommandResult, PulumiCommand
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

HISTORY = [{"version": 1, "kind": "update", "startTime": "2026-11-22T00:00:00.000Z",
            "message": "", "environment": {}, "config": {}, "result": "succeeded",
            "endTime": "2026-11-22T00:01:00.000Z", "resourceChanges": {"create": 7}}]


class FakePulumi(PulumiCommand):
    """Records ``pulumi`` invocations; ``fail`` decides which ones error and how."""

    def __init__(self, fail: Callable[[list[str]], str | None] | None = None) -> None:
        # Deliberately no super().__init__(): that probes a real `pulumi version`.
        self.command = "pulumi"
        self.version = VersionInfo(3, 200, 0)  # < 3.205: file-based event log
        self.calls: list[list[str]] = []
        self.fail = fail
        self._lock = threading.Lock()

    def run(self, args: list[str], cwd: str, additional_env: Mapping[str, str],
            on_output: Any = None, on_error: Any = None) -> CommandResult:
        with self._lock:
            self.calls.append(list(args))
        stderr = self.fail(args) if self.fail else None
        if stderr is not None:
            raise create_command_error(CommandResult(stdout="", stderr=stderr, code=255))
        if args[0] == "preview" and "--event-log" in args:
            log = args[args.index("--event-log") + 1]
            event = {"sequence": 1, "timestamp": 1, "summaryEvent": {
                "maybeCorrupt": False, "durationSeconds": 1,
                "resourceChanges": {"create": 7, "same": 2}, "policyPacks": {}}}
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps(event) + "\n")
        stdout = ""
        if args[:2] == ["stack", "history"]:
            stdout = json.dumps(HISTORY)
        elif args[:2] == ["stack", "output"]:
            stdout = "{}"
        return CommandResult(stdout=stdout, stderr="", code=0)

    def ran(self, verb: str) -> list[list[str]]:
        """The calls whose first word is ``verb``."""
        return [c for c in self.calls if c[0] == verb]

"""Real deployments through the Pulumi Automation API: preview, up, refresh, destroy.

This is the thin part that needs the Pulumi CLI and cloud credentials. Everything it
decides (which stacks, in which waves, with which config) is pure and comes from the stack
model; the Pulumi CLI is reached only through an injectable ``PulumiCommand``, which is how
the tests drive it without a CLI.

Concurrency follows the Automation API's constraints: one work directory per stack
(``select_stack`` rewrites a workspace's current-stack file), plugins installed once,
serially, before fanning out (concurrent installs race on the plugin cache), ``stack.up()``
run on threads, and a stack locked by another update retried with backoff (never
cancelled: we do not own that lock).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pulumi import automation as auto

from tenants.stacks import StackSpec

Action = Literal["preview", "up", "refresh", "destroy"]
PROJECT = "tenant-platform"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
POLICY_PACK = PROJECT_ROOT / "policy"


@dataclass
class StackResult:
    """The outcome of one action on one stack."""

    stack: str
    action: Action
    ok: bool
    changes: dict[str, int] = field(default_factory=dict)
    error: str = ""
    attempts: int = 1


@dataclass(frozen=True)
class Plugin:
    """A resource plugin the program needs: what ``pulumi plugin install`` takes."""

    name: str
    version: str
    server: str | None = None


def _requirement_name(requirement: str) -> str:
    """``'pulumi<4.0.0,>=3.165.0'`` -> ``'pulumi'`` (PEP 508 name, normalised)."""
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def required_plugins() -> list[Plugin]:
    """The resource plugins of the installed Pulumi provider packages, sorted by name.

    The same source the Python language host reads to tell the engine which plugins a
    program needs: the ``pulumi-plugin.json`` every provider package ships (``resource``,
    ``name``, ``version`` and, for third-party providers, ``server``). So the versions
    installed are exactly the SDKs' pinned ones.
    """
    found: dict[str, Plugin] = {}
    for dist in importlib.metadata.distributions():
        if not any(_requirement_name(r) == "pulumi" for r in dist.requires or ()):
            continue  # every provider SDK depends on pulumi; skip reading the others' RECORDs
        for file in dist.files or ():
            if file.name != "pulumi-plugin.json":
                continue
            try:
                meta = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if meta.get("resource") and meta.get("name") and meta.get("version"):
                version = "v" + str(meta["version"]).removeprefix("v")
                found[meta["name"]] = Plugin(meta["name"], version, meta.get("server") or None)
    return [found[name] for name in sorted(found)]


def waves(specs: Sequence[StackSpec], canary: str = "shared-dev") -> list[list[StackSpec]]:
    """Order a fleet rollout: the canary cell, then the other cells, then dedicated tenants.

    A failure in one wave stops the later waves, so a bad change reaches one small cell
    before it reaches every customer.
    """
    first = [s for s in specs if s.name == canary]
    cells = [s for s in specs if s.kind == "shared" and s.name != canary]
    dedicated = [s for s in specs if s.kind == "dedicated"]
    return [wave for wave in (first, cells, dedicated) if wave]


def work_dir_for(root: Path, spec: StackSpec) -> Path:
    """A per-stack work directory whose Pulumi.yaml points at the real project."""
    directory = root / spec.name
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class FleetRunner:
    """Runs one action over many stacks with bounded concurrency and progress reports."""

    def __init__(self, *, work_root: Path, pulumi_command: auto.PulumiCommand | None = None,
                 env: dict[str, str] | None = None, parallel: int = 2, retries: int = 3,
                 backoff_seconds: float = 5.0, policy_pack: Path | None = POLICY_PACK,
                 virtualenv: str | None = None, sleep: Callable[[float], None] = time.sleep,
                 report: Callable[[str], None] = print, registry: Path | None = None) -> None:
        self.work_root = work_root
        #: The registry the stacks are built from (stack config ``tenant-platform:registry``).
        self.registry = registry.resolve() if registry is not None else None
        self.command = pulumi_command if pulumi_command is not None else auto.PulumiCommand()
        self.env = dict(env or {})
        self.parallel = max(1, parallel)
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.policy_pack = policy_pack
        self.virtualenv = virtualenv
        self.sleep = sleep
        self.report = report
        self._report_lock = threading.Lock()

    def _say(self, message: str) -> None:
        with self._report_lock:
            self.report(message)

    def _settings(self, work_dir: Path) -> auto.ProjectSettings:
        options = {"toolchain": "pip", "virtualenv": self.virtualenv} if self.virtualenv else None
        # ``main`` is resolved relative to the work directory: point it at the real program.
        return auto.ProjectSettings(
            name=PROJECT, main=os.path.relpath(PROJECT_ROOT, work_dir),
            runtime=auto.ProjectRuntimeInfo(name="python", options=options))

    def stack(self, spec: StackSpec) -> auto.Stack:
        """Select (or create) the stack in its own work directory and set its config."""
        work_dir = work_dir_for(self.work_root, spec)
        options = auto.LocalWorkspaceOptions(
            work_dir=str(work_dir), pulumi_command=self.command,
            project_settings=self._settings(work_dir), env_vars=self.env)
        stack = auto.create_or_select_stack(spec.name, work_dir=options.work_dir, opts=options)
        config = spec.pulumi_config()
        if self.registry is not None:
            config["tenant-platform:registry"] = str(self.registry)
        stack.set_all_config({k: auto.ConfigValue(v) for k, v in config.items()})
        return stack

    def install_plugins(self, plugins: Sequence[Plugin] | None = None) -> list[Plugin]:
        """Install the program's plugins once, serially, before any stack runs.

        Concurrent ``pulumi up`` runs that each download a missing plugin race on the
        plugin cache: installing them first leaves nothing to download.
        Raises ``auto.CommandError`` when an install fails.
        """
        wanted = required_plugins() if plugins is None else list(plugins)
        directory = self.work_root / ".plugins"  # not a stack name: never a stack's work dir
        directory.mkdir(parents=True, exist_ok=True)
        workspace = auto.LocalWorkspace(work_dir=str(directory), pulumi_command=self.command,
                                        project_settings=self._settings(directory), env_vars=self.env)
        for plugin in wanted:
            if plugin.server:
                workspace.install_plugin_from_server(plugin.name, plugin.version, plugin.server)
            else:
                workspace.install_plugin(plugin.name, plugin.version)
        return wanted

    def _policy_config(self, spec: StackSpec) -> list[str] | None:
        """Write the stack's policy config (tiers, levels, its tenants' hosts) beside it; return it.

        Without it the real engine would apply the catalogue's tiers and levels unchanged,
        which differs from what ``tenantctl plan`` evaluated for this kind of stack.
        """
        if not self.policy_pack:
            return None
        from policy.config import host_ownership, stack_config  # the pack is heavy: load it only when used

        path = work_dir_for(self.work_root, spec) / "policy-config.json"
        config = stack_config(spec.kind, hosts=host_ownership(spec.tenants))
        path.write_text(json.dumps(config, indent=1, sort_keys=True),
                        encoding="utf-8")
        return [str(path)]

    def _act(self, stack: auto.Stack, spec: StackSpec, action: Action) -> dict[str, int]:
        packs = [str(self.policy_pack)] if self.policy_pack else None
        configs = self._policy_config(spec)
        if action == "preview":
            changes: Mapping[Any, int] = stack.preview(
                policy_packs=packs, policy_pack_configs=configs).change_summary
        elif action == "up":
            changes = stack.up(policy_packs=packs,
                               policy_pack_configs=configs).summary.resource_changes or {}
        elif action == "refresh":
            changes = stack.refresh().summary.resource_changes or {}
        else:
            changes = stack.destroy().summary.resource_changes or {}
        # Keys are OpType enums or plain strings depending on the call: report strings.
        return {getattr(k, "value", str(k)): int(v) for k, v in changes.items()}

    def run_one(self, spec: StackSpec, action: Action) -> StackResult:
        """One action on one stack, retrying while another update holds its lock."""
        attempt = 0
        while True:
            attempt += 1
            try:
                changes = self._act(self.stack(spec), spec, action)
                return StackResult(spec.name, action, True, changes, attempts=attempt)
            except auto.ConcurrentUpdateError as exc:
                if attempt > self.retries:
                    return StackResult(spec.name, action, False, error=f"stack is locked: {exc}",
                                       attempts=attempt)
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                self._say(f"  {spec.name}: locked by another update; retrying in {delay:.0f}s")
                self.sleep(delay)
            except auto.CommandError as exc:
                return StackResult(spec.name, action, False, error=str(exc).strip(), attempts=attempt)

    def run(self, specs: Sequence[StackSpec], action: Action) -> list[StackResult]:
        """Run ``action`` wave by wave; a failed wave stops the rollout."""
        results: list[StackResult] = []
        ordered = waves(specs)
        try:
            self.install_plugins()
        except auto.CommandError as exc:
            self._say(f"plugin install failed, no stack run: {str(exc).strip()}")
            return results
        total, done = sum(len(w) for w in ordered), 0
        for number, wave in enumerate(ordered, start=1):
            self._say(f"wave {number}/{len(ordered)}: {', '.join(s.name for s in wave)}")
            with ThreadPoolExecutor(max_workers=self.parallel) as pool:
                for result in pool.map(lambda s: self.run_one(s, action), wave):
                    done += 1
                    results.append(result)
                    state = "ok" if result.ok else "FAILED"
                    changes = ", ".join(f"{k}={v}" for k, v in sorted(result.changes.items()))
                    self._say(f"[{done}/{total}] {result.stack}: {action} {state} {changes}"
                              + (f"\n    {result.error}" if result.error else ""))
            if not all(r.ok for r in results):
                skipped = [s.name for w in ordered[number:] for s in w]
                if skipped:
                    self._say(f"stopping: later waves not run: {', '.join(skipped)}")
                break
        return results

"""Run a Pulumi program with no engine and record every resource it declares.

This is the offline planner's engine and every component test's harness. A recording
monitor sits where the Pulumi engine would be and captures, for each registration, the
type, name, parent, inputs (camelCase, as the engine and policies see them) and the
options the real engine would act on (protect, retainOnDelete, dependsOn, provider,
aliases, ignoreChanges, ...). Secrets are recorded as ``"[secret]"``: a plan file must
never leak them.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import provider_pb2, resource_pb2, source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from tenantctl import mock_outputs, sdk_fast, wire_values

SECRET = "[secret]"  # noqa: S105 - the mask, not a secret
UNKNOWN = "[unknown]"
_SECRET_SIG = rpc._special_sig_key  # noqa: SLF001 - the wire key that marks secrets
_RUN_LOCK = threading.Lock()


class DuplicateResource(RuntimeError):
    """Two resources share a URN; the real engine would reject the program."""


@dataclass
class RecordedResource:
    """One registration as the engine would see it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    remote: bool
    inputs: dict[str, Any]
    options: dict[str, Any]
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)

    def as_plan(self) -> dict[str, Any]:
        """The plan.json form of this resource."""
        return {"urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent,
                "custom": self.custom, "inputs": self.inputs, "options": self.options}


_AS_IS = (str, int, bool, type(None))


def plain(value: Any) -> Any:
    """Deserialized engine values to plain JSON: secrets masked, resources as URNs."""
    kind = type(value)
    if kind in _AS_IS:  # exact types (most leaves): a subclass takes the checks below
        return value
    if kind is dict and _SECRET_SIG not in value:
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == rpc._special_secret_sig:  # noqa: SLF001
            return SECRET
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, pulumi.Resource):
        return f"[resource {type(value).__name__}]"
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return _asset(value)
    if value is pulumi.output.UNKNOWN or type(value).__name__ == "Unknown":
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        # The engine's wire format (protobuf Struct) carries every number as a double; the
        # program wrote an integer (a port, a uid, a replica count), so record it as one.
        return int(value)
    return value


def _asset(value: pulumi.Asset | pulumi.Archive) -> dict[str, Any]:
    """An asset or archive (a Lambda's code) as plain JSON: its kind and what it is made of.

    File contents are named by path and SHA-256, so a plan changes when the code does.
    """
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {name: _asset(item) for name, item in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        path = Path(value.path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return {"file": path.name, "sha256": digest}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    return {"asset": type(value).__name__}


def _unwrap(value: Any) -> Any:
    """Deserialized engine values with every secret (at any depth) unwrapped."""
    if type(value) in _AS_IS or type(value) is float:
        return value
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == rpc._special_secret_sig:  # noqa: SLF001
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unwrap(v) for v in value]
    return value


class _Mocks(pulumi.runtime.Mocks):
    """Mocked outputs; invokes are answered for the account and region of their provider."""

    def __init__(self) -> None:
        self.monitor: RecordingMonitor | None = None

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return mock_outputs.resource_outputs(args.typ, args.name, args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        monitor = self.monitor
        if monitor is None:
            return mock_outputs.call(args.token, args.args)
        monitor.invokes.append(RecordedInvoke(args.token, _provider_urn(args.provider)))
        return mock_outputs.call(args.token, args.args, monitor.where_for(args.provider))


@dataclass(frozen=True)
class RecordedInvoke:
    """One data-source call: its token and the provider it went through (None: the default)."""

    token: str
    provider: str | None


def _provider_urn(reference: str | None) -> str | None:
    # A provider reference is "<urn>::<id>"; the URN is what identifies it.
    return reference.rsplit("::", 1)[0] if reference else None


def _serialized(state: dict[str, Any]) -> Any:
    """``rpc.serialize_properties(state)``, run to completion here when it never has to wait.

    A mocked state is deserialized engine values (dicts, lists, strings, numbers...): its
    serialization awaits only its own nested coroutines, so it finishes on the first step
    without an event loop. Running it through ``_sync_await`` instead started this thread's
    loop for every registration. Should it ever wait on a future, it is run again the
    SDK's way (serializing has no side effects).
    """
    steps = rpc.serialize_properties(state, {})
    try:
        steps.send(None)
    except StopIteration as done:
        return done.value
    steps.close()
    return _sync_await(rpc.serialize_properties(state, {}))


@dataclass(frozen=True)
class _Registered:
    """A ``RegisterResourceResponse`` as the SDK reads it, its outputs already read."""

    urn: str
    id: str
    object: wire_values.Read
    result: int = resource_pb2.Result.SUCCESS
    propertyDependencies: dict[str, Any] = field(default_factory=dict)  # noqa: N815 - the wire name
    unknown: bool = False


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps the raw request of every registration."""

    def __init__(self, project: str, stack: str) -> None:
        mocks = _Mocks()
        super().__init__(mocks)
        mocks.monitor = self
        self.invokes: list[RecordedInvoke] = []
        self.project = project
        self.stack = stack
        self.recorded: dict[str, RecordedResource] = {}
        self.stack_outputs: dict[str, Any] = {}
        self.root_urn = f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"
        #: Answer registrations with outputs already read (:mod:`tenantctl.wire_values`):
        #: only while the SDK's ``deserialize_properties`` is replaced to take them.
        self.outputs_read = False

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine builds them: parent type chain, but never the root stack."""
        if parent and parent != self.root_urn:
            parent_type = parent.split("::")[2]
            type_ = parent_type + "$" + type_
        return f"urn:pulumi:{self.stack}::{self.project}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        """Record the raw request, then answer with mocked outputs."""
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=self.root_urn)
        urn = self.make_urn(request.parent, request.type, request.name)
        if urn in self.recorded:
            raise DuplicateResource(f"duplicate resource URN {urn}")
        _ensure_event_loop()
        raw_inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        inputs = plain(raw_inputs)
        # Unwrap secrets for the mock's own outputs (they echo inputs), never for the record.
        clear_inputs = _unwrap(raw_inputs)
        resource_id, state = mock_outputs.resource_outputs(request.type, request.name, clear_inputs,
                                                           self.where_for(request.provider or None))
        if not request.custom and not request.remote:
            resource_id, state = "", {}
        provider = request.provider or None
        options = {
            "protect": bool(request.protect),
            "retainOnDelete": bool(request.retainOnDelete),
            "deleteBeforeReplace": bool(request.deleteBeforeReplace),
            "dependsOn": sorted(set(request.dependencies)),
            # Which input came from which resources: stack policies link resources by it.
            "propertyDependencies": {k: sorted(v.urns) for k, v in
                                     sorted(request.propertyDependencies.items()) if v.urns},
            # A provider reference is "<urn>::<id>"; the URN is what identifies it.
            "provider": provider.rsplit("::", 1)[0] if provider else None,
            "providers": dict(request.providers),
            "ignoreChanges": list(request.ignoreChanges),
            "replaceOnChanges": list(request.replaceOnChanges),
            "additionalSecretOutputs": list(request.additionalSecretOutputs),
            "aliases": [a.urn if a.urn else {"name": a.spec.name, "type": a.spec.type}
                        for a in request.aliases] + list(request.aliasURNs),
            "deletedWith": request.deletedWith or None,
            "version": request.version or None,
        }
        self.recorded[urn] = RecordedResource(
            urn=urn, type=request.type, name=request.name,
            parent=request.parent if request.parent and request.parent != self.root_urn else None,
            custom=bool(request.custom), remote=bool(request.remote), inputs=inputs,
            options=options, id=resource_id, outputs=plain(state))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, resource_id, state)
        read = wire_values.outputs(state) if self.outputs_read else None
        if read is not None:
            return _Registered(urn=urn, id=resource_id, object=read)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=_serialized(state))

    def Invoke(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        """``MockMonitor.Invoke`` of the pinned SDK, serializing the answer without an event loop.

        The monitor may be called on the event loop's own thread (``sdk_fast.monitor_inline``),
        where the SDK's ``_sync_await`` would pump the running loop from inside a callback.
        """
        _ensure_event_loop()  # deserializing resource references needs one
        args = rpc.deserialize_properties(request.args)
        if request.tok == "pulumi:pulumi:getResource":
            registered = self.resources.get(args["urn"])
            if registered is None:
                raise Exception(f"unknown resource {args['urn']}")  # noqa: TRY002 - the SDK's
            state = registered._asdict()
            return resource_pb2.ResourceInvokeResponse(failures=None, **{"return": _serialized(state)})
        call = pulumi_mocks.MockCallArgs(token=request.tok, args=args, provider=request.provider)
        answer = self.mocks.call(call)
        if isinstance(answer, dict):
            result, failures = answer, None
        else:
            result = answer[0]
            failures = [provider_pb2.CheckFailure(property=f[0], reason=f[1]) for f in answer[1] or []]
        return resource_pb2.ResourceInvokeResponse(failures=failures, **{"return": _serialized(result)})

    def where_for(self, provider: str | None) -> mock_outputs.Where:
        """The account and region of a provider reference (an ``aws`` provider's assumed role)."""
        urn = _provider_urn(provider)
        recorded = self.recorded.get(urn) if urn else None
        if recorded is None or recorded.type != "pulumi:providers:aws":
            return mock_outputs.Where()
        return mock_outputs.where_of(recorded.inputs)

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        """Keep the root stack's outputs."""
        if request.urn == self.root_urn:
            self.stack_outputs = plain(rpc.deserialize_properties(request.outputs))
        return super().RegisterResourceOutputs(request)


@dataclass
class ProgramRun:
    """Everything a program declared under the mock engine."""

    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    #: Every invoke the program made, in order.
    invokes: list[RecordedInvoke] = field(default_factory=list)

    def of_type(self, type_: str) -> list[RecordedResource]:
        """Resources of one type token, in registration order."""
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> RecordedResource:
        """The one resource with this logical name (KeyError if none, ValueError if many)."""
        found = [r for r in self.resources if r.name == name]
        if not found:
            raise KeyError(f"no resource named {name!r}; names: {sorted(r.name for r in self.resources)}")
        if len(found) > 1:
            raise ValueError(f"{len(found)} resources named {name!r}")
        return found[0]

    def children_of(self, urn: str) -> list[RecordedResource]:
        """Direct children of a resource."""
        return [r for r in self.resources if r.parent == urn]


def after_fork() -> None:
    """Give a forked process its own event loop before it runs a program.

    The SDK sends every registration through the event loop's default thread pool; a
    forked child inherits the parent's loop, whose pool threads do not exist in the child
    (its registrations would wait forever) and whose epoll instance is the parent's.
    """
    asyncio.set_event_loop(asyncio.new_event_loop())


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


@contextmanager
def _without_source_positions() -> Iterator[None]:
    """Skip the SDK's per-resource stack capture while a program runs under this monitor.

    For every registration the SDK walks the whole Python stack and turns each frame into
    a file URI (``pulumi.runtime.resource._get_stack_trace``, pinned SDK) so that the real
    engine can point at the line that declared a resource. The recording monitor never
    reads it, and the program's components make those stacks deep: it was an eighth of a
    plan's time. The stack trace sent is empty, as when the SDK finds no user frame.
    """
    saved = pulumi_resource._get_stack_trace  # noqa: SLF001
    pulumi_resource._get_stack_trace = _no_stack_trace  # noqa: SLF001
    try:
        yield
    finally:
        pulumi_resource._get_stack_trace = saved  # noqa: SLF001


def _usable_event_loop() -> None:
    """Make sure this thread has an open event loop: the SDK schedules on the current one.

    A caller that ran ``asyncio.run`` (which leaves no loop set) or closed its loop would
    otherwise make the first registration fail with "Event loop is closed".
    """
    if _ensure_event_loop().is_closed():  # the SDK's helper sets one only when there is none
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(program: Callable[[], Any], *, project: str = "tenant-platform",
                stack: str = "test", preview: bool = False) -> ProgramRun:
    """Run ``program`` (which declares resources) under a fresh recording monitor.

    Runs are serialised: the Pulumi runtime keeps its settings in process globals.
    """
    with _RUN_LOCK, _without_source_positions(), sdk_fast.installed() as fast:
        _usable_event_loop()
        monitor = RecordingMonitor(project, stack)
        monitor.outputs_read = fast
        settings.ROOT.set(None)
        pulumi.runtime.set_mocks(_Mocks(), project=project, stack=stack, preview=preview,
                                 monitor=monitor)
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()

        def body() -> None:
            result = program()
            if result is not None:
                _sync_await(pulumi.Output.from_input(result).future())

        with sdk_fast.monitor_inline(_ensure_event_loop()):
            _sync_await(run_pulumi_func(body))
        # Registrations arrive from worker threads in no fixed order: sort for stable plans.
        resources = sorted(monitor.recorded.values(), key=lambda r: r.urn)
        return ProgramRun(project, stack, resources, monitor.stack_outputs, list(monitor.invokes))

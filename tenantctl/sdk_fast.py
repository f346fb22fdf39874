"""Faster equivalents of a few of the Pulumi SDK's per-value helpers, while a program runs here.

Under the mock engine the SDK's own bookkeeping is most of a plan's time, and a few pure
helpers are called tens of times per resource with the same arguments:

- ``pulumi._types.unwrap_type`` / ``unwrap_optional_type`` / ``_is_optional_type``: the
  typed-input translation of every property asks what ``Input[Optional[T]]`` unwraps to,
  through several ``typing.get_origin`` calls, again for every property of every
  resource. They depend only on the type object, so each answer is kept per object
  (by identity: ``typing`` unions compare equal regardless of order, and these helpers
  read the order).
- ``pulumi.runtime.rpc.contains_unknowns``: every resolved ``Output`` checks its value
  for unknowns; most values are strings, numbers or booleans, which are never unknown.
- ``pulumi.runtime.rpc.serialize_property`` / ``deserialize_property``: called for every
  value at every depth of every resource's inputs and outputs (about fifty times per
  resource), each running a dozen type checks (several through ``abc`` instance checks)
  before it returns a plain string, number, boolean or None unchanged. An exact
  ``str``/``int``/``float``/``bool``/``None`` (never a subclass: an ``Enum`` of ``str``
  takes the SDK's way) is answered at once, as the SDK's last line would (a string equal
  to the unknown sentinel still goes to the SDK); everything else goes to the SDK's
  function, whose recursive calls come back through the replacement.
- ``pulumi.runtime.rpc.translate_output_properties``: every output value of every
  resource, at every depth, is converted to its declared type; a plain scalar whose type
  is none, ``Any``, ``str``, ``float``, ``bool`` (or ``int``, when the value is not a
  float: the SDK turns a float into an int there) comes back unchanged, as the SDK's own
  last line returns it; an ``Enum`` type, a float for an ``int`` and every container
  take the SDK's way.
- ``pulumi._types.resource_types`` / ``resource_pulumi_to_py_names``: asked for every
  registered resource, they rebuild a class from the resource class's annotations and
  resolve its type hints each time, although they depend on the class alone. Each answer
  is kept per class and a copy handed out (callers only read it, but a copy keeps them
  from sharing one dict).
- ``pulumi.runtime.resource.create_urn``: every registration computes the URN the SDK
  would fake for a missing monitor (``mock_urn``, unused when there is one) through an
  ``Output.all(...).apply`` chain of several outputs and tasks. With a plain name, type
  and parent URN (strings, as ``do_register`` passes them) the same string is built
  here and returned as one known output; anything else (outputs, a parent resource, as
  alias resolution passes) goes to the SDK.
- ``pulumi.log.debug``: the SDK logs a debug line or two per registration; with the mock
  engine (which hands them to a ``logging`` logger) it builds the engine's log request
  for each, and the logger drops it unless it is enabled for DEBUG. Those are dropped
  here without the request; with the logger enabled, or any other engine, the SDK logs.
- ``Output._track``: every ``Output`` registers its future in ``SETTINGS.outputs`` (so
  the program waits for it) and removes it when done, reading two context-variable
  settings four times through the SDK's property machinery. It now reads them once; the
  set and the lock are the same objects for the callback (a done callback runs in a copy
  of the context it was added in, and ``SETTINGS.outputs`` is only ever cleared in place).

- A registration's inputs and the monitor's answer no longer go through protobuf
  ``Struct`` messages built only to be read back (:mod:`tenantctl.wire_values`):
  ``rpc.serialize_properties`` (while ``prepare_resource`` runs) keeps the serialized
  inputs, ``RegisterResourceRequest`` is a plain object of the message's fields, and
  ``rpc.deserialize_properties`` hands back what the monitor already read; everything
  else (invokes, component outputs) still gets a ``Struct``.

And the monitor is called in place (:func:`monitor_inline`): the SDK sends every
registration and invoke through the event loop's thread pool, as it must for a gRPC
engine; the recording monitor is in-process Python that never blocks, so the hop (a pool
thread, the futures chained across threads, the loop's self-pipe) was pure overhead.

Each replacement returns exactly what the SDK's function returns, but for the order of
keys in a mapping that a ``Struct`` used to scramble (a test plans a mixed fleet with and
without them and compares plan.json and every manifest, parsed, type by type).
They are written against one SDK version: with any other installed, or with
``TENANTCTL_SDK_FAST_PATH=0``, the SDK runs untouched.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

from pulumi import _types
from pulumi import log as pulumi_log
from pulumi import output as pulumi_output
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.settings import SETTINGS

from tenantctl import wire_values

#: The SDK version these replacements were read from (pyproject pins it).
PINNED_SDK = "3.272.0"
#: ``TENANTCTL_SDK_FAST_PATH=0`` runs the SDK untouched (to compare plans with and without).
ENV = "TENANTCTL_SDK_FAST_PATH"


def enabled(version: str | None = None) -> bool:
    """Whether the replacements apply: the pinned SDK is installed and they are not switched off."""
    installed = metadata.version("pulumi") if version is None else version
    return installed == PINNED_SDK and os.environ.get(ENV, "1") != "0"


def _by_identity(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` of a type object, remembered per object (kept alive so that ids stay unique)."""
    seen: dict[int, tuple[Any, Any]] = {}

    def cached(tp: Any) -> Any:
        found = seen.get(id(tp))
        if found is None:
            found = seen[id(tp)] = (tp, fn(tp))
        return found[1]

    return cached


_SCALARS = (str, int, float, bool, type(None))


def _contains_unknowns(sdk: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def contains_unknowns(val: Any) -> bool:
        # Exact types only: a subclass of str could be an Unknown in disguise.
        if type(val) in _SCALARS:
            return False
        return sdk(val)

    return contains_unknowns


def _serialize_property(sdk: Callable[..., Any]) -> Callable[..., Any]:
    async def serialize_property(value: Any, deps: Any, property_key: Any, resource_obj: Any = None,
                                 input_transformer: Any = None, typ: Any = None,
                                 keep_output_values: bool = False,
                                 exclude_resource_refs_from_deps: bool = False,
                                 return_protobuf_value: bool = False) -> Any:
        if not return_protobuf_value and type(value) in _SCALARS:
            return value
        return await sdk(value, deps, property_key, resource_obj, input_transformer, typ, keep_output_values,
                         exclude_resource_refs_from_deps, return_protobuf_value)

    return serialize_property


def _deserialize_property(sdk: Callable[..., Any]) -> Callable[..., Any]:
    unknown = rpc.UNKNOWN

    def deserialize_property(value: Any, keep_unknowns: bool | None = None,
                             keep_internal: bool | None = True) -> Any:
        kind = type(value)
        if kind in _SCALARS and (kind is not str or value != unknown):
            return value
        return sdk(value, keep_unknowns, keep_internal)

    return deserialize_property


def _translate_output_properties(sdk: Callable[..., Any]) -> Callable[..., Any]:
    unchanged = (str, float, bool, Any)

    def translate_output_properties(output: Any, output_transformer: Callable[[str], str],
                                    typ: Any = None, transform_using_type_metadata: bool = False,
                                    path: Any = None, return_none_on_dict_type_mismatch: bool = False) -> Any:
        kind = type(output)
        if kind in _SCALARS:
            wanted = _types.unwrap_optional_type(typ) if typ else typ
            if wanted is None or wanted in unchanged or (wanted is int and kind is not float):
                return output
        return sdk(output, output_transformer, typ, transform_using_type_metadata, path,
                   return_none_on_dict_type_mismatch)

    return translate_output_properties


def _create_urn(sdk: Callable[..., Any]) -> Callable[..., Any]:
    def create_urn(name: Any, type_: Any, parent: Any = None, project: str | None = None,
                   stack: str | None = None) -> Any:
        plain = type(name) is str and type(type_) is str and (parent is None or type(parent) is str)
        if not plain:
            return sdk(name, type_, parent, project, stack)
        if parent is not None:
            prefix = parent[0:parent.rfind("::")] + "$"
        else:
            stack = settings.get_stack() if stack is None else stack
            project = settings.get_project() if project is None else project
            prefix = "urn:pulumi:" + stack + "::" + project + "::"
        return pulumi_output.Output.from_input(prefix + type_ + "::" + name)

    return create_urn


def _debug(sdk: Callable[..., None]) -> Callable[..., None]:
    def debug(msg: str, resource: Any = None, stream_id: Any = None, ephemeral: Any = None) -> None:
        engine = settings.get_engine()
        if type(engine) is pulumi_mocks.MockEngine and not engine.logger.isEnabledFor(logging.DEBUG):
            return  # the mock engine would hand it to a logger that drops it
        sdk(msg, resource, stream_id, ephemeral)

    return debug


def _per_class(fn: Callable[[type], dict[str, Any]]) -> Callable[[type], dict[str, Any]]:
    """``fn`` of a class, computed once per class; each caller gets its own copy."""
    cached = _by_identity(fn)

    def copy(cls: type) -> dict[str, Any]:
        return dict(cached(cls))

    return copy


def _track(self: Any) -> None:
    """``Output._track`` of the pinned SDK, reading the settings once."""
    outputs, lock = SETTINGS.outputs, SETTINGS.lock
    with lock:
        outputs.add(self._data)

    def cleanup(fut: Any) -> None:
        if fut.cancelled() or (fut.exception() is not None):
            return  # left in the set to pick up at program exit, as the SDK does
        with lock:
            outputs.discard(fut)

    self._data.add_done_callback(cleanup)


def _replacements() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) of everything :func:`installed` swaps in."""
    contains_unknowns = _contains_unknowns(rpc.contains_unknowns)
    return [
        (_types, "unwrap_type", _by_identity(_types.unwrap_type)),
        (_types, "unwrap_optional_type", _by_identity(_types.unwrap_optional_type)),
        (_types, "_is_optional_type", _by_identity(_types._is_optional_type)),  # noqa: SLF001
        (rpc, "contains_unknowns", contains_unknowns),
        # output.contains_unknowns only calls rpc's: skip that hop too.
        (pulumi_output, "contains_unknowns", contains_unknowns),
        (pulumi_output.Output, "_track", _track),
        (rpc, "serialize_property", _serialize_property(rpc.serialize_property)),
        (rpc, "deserialize_property", _deserialize_property(rpc.deserialize_property)),
        (rpc, "translate_output_properties", _translate_output_properties(rpc.translate_output_properties)),
        (_types, "resource_types", _per_class(_types.resource_types)),
        (_types, "resource_pulumi_to_py_names", _per_class(_types.resource_pulumi_to_py_names)),
        (pulumi_resource, "create_urn", _create_urn(pulumi_resource.create_urn)),
        (pulumi_log, "debug", _debug(pulumi_log.debug)),
        (rpc, "deserialize_properties", wire_values.deserialize_properties(rpc.deserialize_properties)),
        (rpc, "serialize_properties", wire_values.serialize_properties(rpc.serialize_properties)),
        (pulumi_resource, "prepare_resource", wire_values.prepare_resource(pulumi_resource.prepare_resource)),
        (pulumi_resource, "resource_pb2", wire_values.request_module(pulumi_resource.resource_pb2)),
    ]


@contextmanager
def installed() -> Iterator[bool]:
    """Install the replacements for the duration of one program run (yields whether it did)."""
    if not enabled():
        yield False
        return
    replacements = _replacements()
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in replacements]
    for owner, name, replacement in replacements:
        setattr(owner, name, replacement)
    try:
        yield True
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


@contextmanager
def monitor_inline(loop: asyncio.AbstractEventLoop) -> Iterator[bool]:
    """Run what the SDK sends to ``loop``'s default thread pool in place, answering a done future.

    The SDK reaches the monitor only through ``loop.run_in_executor(None, ...)``; the
    function it passes (already wrapped to run in a copy of the caller's context) runs
    now and its result or exception is the future's, as the pool would have set them.
    The monitor's methods must then not pump the event loop themselves
    (``RecordingMonitor`` serializes without one). Yields whether it did; only for the
    pinned SDK, like :func:`installed`.
    """
    if not enabled():
        yield False
        return
    pooled = loop.run_in_executor

    def run_in_executor(executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        if executor is not None:
            return pooled(executor, func, *args)
        future = loop.create_future()
        try:
            future.set_result(func(*args))
        except Exception as exc:  # noqa: BLE001 - the caller's future carries it, as from a pool
            future.set_exception(exc)
        return future

    setattr(loop, "run_in_executor", run_in_executor)  # noqa: B010 - an instance attribute over the method
    try:
        yield True
    finally:
        del loop.run_in_executor

"""A registration's outputs handed back as the SDK would read them, without a protobuf ``Struct``.

The recording monitor answers every registration with the resource's mocked state. Through
the wire format, that is three conversions per resource: the SDK's serializer makes each
value wire-ready, the values go into a ``Struct`` (a protobuf message: every number
becomes a double), and ``rpc.resolve_outputs`` turns the ``Struct`` back into Python
(``rpc.deserialize_properties``). Building and reading the ``Struct`` was about a twentieth
of a plan's time, to arrive at values this module computes directly:
:func:`outputs` serializes with the SDK's own ``serialize_property`` and then applies what
the round trip does (:func:`_as_read`): numbers become floats, ``None`` inside a mapping
disappears, the unknown sentinel becomes ``Unknown``, lists and tuples become lists.
Anything the round trip treats specially (a secret, an asset, a resource reference: any
mapping with the wire's signature key), or any value a ``Struct`` would not take, is left
to the real ``Struct`` and the SDK, one top-level property at a time.

The answer is a :class:`Read`, which ``rpc.deserialize_properties`` (replaced while a
program runs, :mod:`tenantctl.sdk_fast`) returns as it is, when asked for it the way it was
computed (``keep_unknowns``, the only flag that changes the result); asked otherwise it
builds the ``Struct`` and lets the SDK read it. Written against the pinned SDK, like
:mod:`tenantctl.sdk_fast`; tests compare both ways value by value and type by type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc, settings

_SIG = rpc._special_sig_key  # noqa: SLF001 - the wire key that marks secrets, assets and references
_UNKNOWN = rpc.UNKNOWN


class _NeedsStruct(Exception):  # noqa: N818 - a signal, not an error
    """The value holds something only the real round trip may decide."""


class Read(dict[str, Any]):
    """Outputs already read as ``rpc.deserialize_properties`` would read their ``Struct``.

    ``serialized`` is what the ``Struct`` would have been built from, for a caller that asks
    with another ``keep_unknowns`` than ``keep_unknowns``.
    """

    def __init__(self, values: dict[str, Any], serialized: dict[str, Any], keep_unknowns: bool) -> None:
        super().__init__(values)
        self.serialized = serialized
        self.keep_unknowns = keep_unknowns

    def as_struct(self) -> struct_pb2.Struct:
        """The ``Struct`` the SDK would have been handed."""
        struct = struct_pb2.Struct()
        for key, value in self.serialized.items():
            struct[key] = value
        return struct


def _serialize(state: dict[str, Any]) -> dict[str, Any]:
    """``rpc.serialize_properties(state, {})``'s values before they go into its ``Struct``.

    A mocked state is plain values: serializing it awaits only its own nested coroutines,
    so it finishes on the first step; should it ever have to wait, :class:`_NeedsStruct`.
    """
    async def values() -> dict[str, Any]:
        found = {}
        for key in state:
            value = await rpc.serialize_property(state[key], [], key)
            if value is not None:  # as serialize_properties: a property that serializes to None is absent
                found[key] = value
        return found

    steps = values()
    try:
        steps.send(None)
    except StopIteration as done:
        return done.value
    steps.close()
    raise _NeedsStruct


def _as_read(value: Any, unknown: Callable[[], Any]) -> Any:
    """What putting ``value`` into a ``Struct`` and reading it back with the SDK gives."""
    kind = type(value)
    if kind is str:
        return unknown() if value == _UNKNOWN else value
    if kind is bool or value is None:
        return value
    if kind is float or kind is int:
        try:
            return float(value)
        except OverflowError:
            raise _NeedsStruct from None
    if kind is dict:
        if _SIG in value:
            raise _NeedsStruct
        found = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NeedsStruct
            read = _as_read(item, unknown)
            if read is not None:  # a null in a Struct reads back as an absent key
                found[key] = read
        return found
    if kind is list or kind is tuple:
        return [_as_read(item, unknown) for item in value]
    raise _NeedsStruct  # anything else: the Struct decides (and may refuse it)


def outputs(state: dict[str, Any], *, keep_unknowns: bool = True) -> Read | None:
    """The mocked ``state`` of a registration as ``rpc.resolve_outputs`` would read it back.

    None when only the SDK's own way may answer: the state does not serialize in one step,
    or serializing it fails (the caller's SDK path then raises the SDK's own error).
    """
    try:
        serialized = _serialize(state)
    except Exception:  # noqa: BLE001 - the SDK's way repeats it and raises its own error
        return None
    if _SIG in serialized:  # the whole state is a special value: the SDK reads it
        return None
    as_unknown = (lambda: Unknown()) if settings.is_dry_run() or keep_unknowns else (lambda: None)
    values = {}
    for key, value in serialized.items():
        try:
            read = _as_read(value, as_unknown)
        except _NeedsStruct:
            struct = struct_pb2.Struct()
            try:
                struct[key] = value
            except Exception:  # noqa: BLE001 - refused by the Struct: the SDK's way raises it
                return None
            read = rpc.deserialize_property(struct[key], keep_unknowns)
        if read is not None:
            values[key] = read
    return Read(values, serialized, keep_unknowns)


def deserialize_properties(sdk: Callable[..., Any]) -> Callable[..., Any]:
    """``rpc.deserialize_properties`` that hands a :class:`Read` back as it is, when asked alike."""
    def read(props_struct: Any, keep_unknowns: bool | None = None, keep_internal: bool | None = True) -> Any:
        if type(props_struct) is Read:
            if bool(keep_unknowns) == props_struct.keep_unknowns and keep_internal in (True, None):
                return dict(props_struct)
            props_struct = props_struct.as_struct()
        return sdk(props_struct, keep_unknowns, keep_internal)

    return read

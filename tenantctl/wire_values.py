"""A registration's inputs and outputs passed as the SDK would read them, with no protobuf ``Struct``.

Under the mock engine a registration crossed the wire format twice, to arrive where it
started. Its inputs: the SDK serializes each value, puts them into a ``Struct`` (a
protobuf message: every number a double) inside a ``RegisterResourceRequest``, and the
recording monitor reads the ``Struct`` back (``rpc.deserialize_properties``), as does
``rpc.resolve_outputs`` for inputs the answer lacks. Its outputs: the monitor serializes
the mocked state into another ``Struct`` for ``resolve_outputs`` to read back. Building
and reading those messages was about a sixth of a slice's time. Here the serialized
values are kept as they are and read as the round trip would read them
(:func:`_as_read`): numbers become floats, ``None`` inside a mapping disappears, the
unknown sentinel becomes ``Unknown`` (or ``None``, as the SDK decides), lists and tuples
become lists. Whatever the round trip treats specially (a secret, an asset, a resource
reference: any mapping with the wire's signature key) and any value a ``Struct`` refuses
goes through a real ``Struct`` and the SDK, one top-level property at a time, so the
SDK's own code decides it and raises its own errors.

- :class:`Written`: a registration's inputs, from ``serialize_properties`` while
  ``prepare_resource`` runs (:func:`serialize_properties`, :func:`prepare_resource`), in a
  ``RegisterResourceRequest`` that is a plain object with the message's fields and
  defaults (:func:`request_module`).
- :class:`Read`: the monitor's answer (:func:`outputs`).
- :func:`deserialize_properties` hands either back as read, when asked the way it was
  read; asked otherwise it builds the ``Struct`` and lets the SDK read it.

The one difference from the wire is the order of keys inside a mapping: a ``Struct``'s map
iterates in an order of its own (its hash table's; the real engine's differs again), here
they keep the program's order. No reader may depend on it: plan.json and the manifests
have their keys in the program's order, and ``bench/fast_path_check.py`` compares plans
with and without the fast path up to that order, and exactly otherwise. Installed by
:mod:`tenantctl.sdk_fast` with the pinned SDK only; tests compare both ways value by value
and type by type.
"""

from __future__ import annotations

import contextvars
import types
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from google.protobuf import descriptor, struct_pb2
from pulumi import _types
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
        kind = type(props_struct)
        if kind is Written and keep_internal in (True, None):
            return props_struct.read(keep_unknowns)
        if kind is Read:
            if bool(keep_unknowns) == props_struct.keep_unknowns and keep_internal in (True, None):
                return dict(props_struct)
            props_struct = props_struct.as_struct()
        elif kind is Written:
            props_struct = props_struct.as_struct()
        return sdk(props_struct, keep_unknowns, keep_internal)

    return read


#: Set while ``prepare_resource`` serializes a registration's inputs (in that task only).
_WRITING: contextvars.ContextVar[bool] = contextvars.ContextVar("tenantctl_wire_writing", default=False)


class Written:
    """A registration's inputs as ``serialize_properties`` would have put them into its ``Struct``.

    Read once, with unknowns kept (as the recording monitor asks), as it is made; a value
    only a ``Struct`` may decide is put into one here, so that one it refuses raises the
    ``Struct``'s own error where the SDK's would.
    """

    def __init__(self, serialized: dict[str, Any]) -> None:
        self.serialized = serialized
        #: The real Struct's value of each property only it may decide.
        self._struct_values: dict[str, Any] = {}
        self._whole: struct_pb2.Struct | None = None
        self._saw_unknown = False
        struct: struct_pb2.Struct | None = None
        if _SIG in serialized:  # the inputs themselves look special: the SDK reads all of it
            self._whole = struct = struct_pb2.Struct()
            for key, value in serialized.items():
                struct[key] = value
            self._read: dict[str, Any] = {}
            return

        def unknown() -> Unknown:
            self._saw_unknown = True
            return Unknown()

        self._read = {}
        for key, value in serialized.items():
            try:
                if type(key) is not str:
                    raise _NeedsStruct
                self._read[key] = _as_read(value, unknown)
            except _NeedsStruct:
                struct = struct_pb2.Struct() if struct is None else struct
                struct[key] = value
                self._struct_values[key] = struct[key]

    def as_struct(self) -> struct_pb2.Struct:
        """The ``Struct`` the SDK would have built."""
        if self._whole is not None:
            return self._whole
        struct = struct_pb2.Struct()
        for key, value in self.serialized.items():
            struct[key] = value
        return struct

    def _values(self, keep_unknowns: bool | None) -> dict[str, Any] | None:
        """Each emulated property read with these unknowns, or None for the SDK to read them all."""
        if self._whole is not None:
            return None
        if keep_unknowns or not self._saw_unknown or settings.is_dry_run():
            return self._read
        return {key: _as_read(self.serialized[key], lambda: None) for key in self._read}

    def read(self, keep_unknowns: bool | None) -> dict[str, Any]:
        """``rpc.deserialize_properties`` of the ``Struct``: absent what reads as None."""
        values = self._values(keep_unknowns)
        if values is None:
            return rpc.deserialize_properties(self.as_struct(), keep_unknowns)
        found = {}
        for key in self.serialized:
            value = (values[key] if key in values
                     else rpc.deserialize_property(self._struct_values[key], keep_unknowns))
            if value is not None:
                found[key] = value
        return found

    def items(self) -> list[tuple[str, Any]]:
        """What ``resolve_outputs`` reads: each value as ``deserialize_property`` will turn it into the SDK's.

        An emulated value is returned as read (plain values, which ``deserialize_property``
        returns as they are), the others as the ``Struct`` holds them, for the SDK to read.
        """
        values = self._values(None)
        if values is None:
            return list(self.as_struct().items())
        return [(key, values[key] if key in values else self._struct_values[key]) for key in self.serialized]


_Async = Callable[..., Coroutine[Any, Any, Any]]


def serialize_properties(sdk: _Async) -> _Async:
    """``rpc.serialize_properties`` of the pinned SDK, giving a :class:`Written` for a registration.

    Only within :func:`prepare_resource`; invokes and component outputs still get a
    ``Struct``, for requests that remain protobuf messages.
    """
    async def serialize(inputs: Any, property_deps: dict[str, list[Any]], resource_obj: Any = None,
                        input_transformer: Callable[[str], str] | None = None, typ: type | None = None,
                        keep_output_values: bool = False,
                        exclude_resource_refs_from_deps: bool = False) -> Any:
        if not _WRITING.get():
            return await sdk(inputs, property_deps, resource_obj, input_transformer, typ, keep_output_values,
                             exclude_resource_refs_from_deps)
        get_type: Callable[[str], Any] = lambda k: None  # noqa: E731 - as the SDK writes it
        translate = input_transformer
        if typ is not None:
            py_name_to_pulumi_name = _types.input_type_py_to_pulumi_names(typ)
            types_ = _types.input_type_types(typ)
            translate = lambda k: py_name_to_pulumi_name.get(k) or k  # noqa: E731
            get_type = lambda k: types_.get(translate(k))  # noqa: E731
        written: dict[str, Any] = {}
        for k in inputs:  # the SDK's loop, its errors word for word; the Struct is Written's
            v = inputs[k]
            deps: list[Any] = []
            try:
                result = await rpc.serialize_property(v, deps, k, resource_obj, input_transformer,
                                                      get_type(k), keep_output_values,
                                                      exclude_resource_refs_from_deps)
            except ValueError as e:
                raise ValueError(f"While processing input: {k!r}, type {type(k)}, value {v!r}\n"
                                 f"ValueError has risen: {e}") from e
            except AssertionError as e:
                raise AssertionError(f"While processing input: {k!r}, type {type(k)}, value {v!r}\n"
                                     f"AssertionError has risen: {e}") from e
            if result is not None:
                name = translate(k) if translate is not None else k
                written[name] = result
                property_deps[name] = deps
        return Written(written)

    return serialize


def prepare_resource(sdk: _Async) -> _Async:
    """``prepare_resource`` with its inputs serialized into a :class:`Written` (this task only)."""
    async def prepare(*args: Any, **kwargs: Any) -> Any:
        token = _WRITING.set(True)
        try:
            return await sdk(*args, **kwargs)
        finally:
            _WRITING.reset(token)

    return prepare


def _field_defaults(message: descriptor.Descriptor) -> dict[str, Callable[[], Any]]:
    """Each field of a message type and how protobuf fills it when it is not given (or None)."""
    found: dict[str, Callable[[], Any]] = {}
    for f in message.fields:
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            found[f.name] = dict
        elif f.label == descriptor.FieldDescriptor.LABEL_REPEATED:
            found[f.name] = list
        elif f.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            found[f.name] = type(None)
        elif f.type == descriptor.FieldDescriptor.TYPE_STRING:
            found[f.name] = str
        elif f.type == descriptor.FieldDescriptor.TYPE_BOOL:
            found[f.name] = bool
        else:
            found[f.name] = int
    return found


class _Message:
    """A protobuf message's fields as a plain object: what was given, protobuf's default for the rest."""

    DEFAULTS: ClassVar[dict[str, Callable[[], Any]]] = {}

    def __init__(self, **fields: Any) -> None:
        unknown = fields.keys() - self.DEFAULTS.keys()
        if unknown:
            raise ValueError(f"Protocol message {type(self).__name__} has no {sorted(unknown)[0]!r} field.")
        values = {}
        for name, default in self.DEFAULTS.items():
            value = fields.get(name)
            if value is None:
                value = default()
            elif default is list or default is dict:
                value = default(value)  # protobuf copies what it is given
            values[name] = value
        self.__dict__.update(values)


def request_module(real: types.ModuleType) -> types.ModuleType:
    """``resource_pb2`` with ``RegisterResourceRequest`` a plain object (its ``object`` a :class:`Written`).

    Everything else is the real module's: only the recording monitor reads these requests.
    """
    request = real.RegisterResourceRequest

    class PropertyDependencies(_Message):
        DEFAULTS = _field_defaults(request.PropertyDependencies.DESCRIPTOR)

    class RegisterResourceRequest(_Message):
        DEFAULTS = _field_defaults(request.DESCRIPTOR)

    for name in ("CustomTimeouts", "ResourceHooksBinding"):
        setattr(RegisterResourceRequest, name, getattr(request, name))
    setattr(RegisterResourceRequest, "PropertyDependencies", PropertyDependencies)  # noqa: B010

    class Shim(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    shim = Shim(real.__name__)
    shim.RegisterResourceRequest = RegisterResourceRequest  # type: ignore[attr-defined]
    return shim

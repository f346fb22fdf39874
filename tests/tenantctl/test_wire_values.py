"""Outputs read without a ``Struct`` are the values, and the types, the SDK reads from one.

Each state is answered both ways: ``wire_values.outputs`` and the SDK's own
``deserialize_properties`` of the ``Struct`` the recording monitor used to build
(``mock_engine._serialized``). They must agree value by value and type by type (a float
where the SDK gives a float, ``Unknown`` where it gives ``Unknown``), and whatever only the
real round trip may decide (secrets, assets, resource references, values a ``Struct``
refuses) must be left to it.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from tenantctl import wire_values
from tenantctl.mock_engine import _Mocks, _serialized


class Colour(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


@pytest.fixture(params=[False, True], ids=["update", "preview"])
def mocked(request: pytest.FixtureRequest) -> Iterator[bool]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(_Mocks(), project="proj", stack="dev", preview=request.param)
    yield request.param
    loop.close()
    asyncio.set_event_loop(asyncio.new_event_loop())  # leave the next test an open loop


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal and of the same types all the way down (an ``Unknown`` matches an ``Unknown``)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} {a!r} against {type(b).__name__} {b!r}"
    if isinstance(a, dict):
        # Not the order: a Struct's map iterates in an order of its own (its hash table's),
        # which the real engine's answers do not share either; no reader may depend on it.
        assert sorted(a) == sorted(b), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    elif not isinstance(a, Unknown):
        assert a == b, where


def _sdk(state: dict[str, Any]) -> Any:
    return rpc.deserialize_properties(_serialized(state), keep_unknowns=True)


PLAIN_STATES: list[dict[str, Any]] = [
    {},
    {"name": "b", "port": 5432, "ratio": 0.5, "whole": 2.0, "on": True, "off": False, "none": None},
    {"tags": {"a": "1", "gone": None, "n": 7}, "list": [1, None, "x", 2.5, True, [3, {"k": None}]]},
    {"tuple": (1, "two"), "nested": {"deeper": {"deepest": [{"x": 1}]}}, "empty": {}, "nothing": []},
    {"big": 2**60, "negative": -3, "nan": float("nan"), "inf": float("inf")},
    {"unknown": rpc.UNKNOWN, "inside": {"u": rpc.UNKNOWN}, "items": [rpc.UNKNOWN, "k"]},
    {"unknown_object": Unknown(), "in_list": [Unknown()]},
    {"enum": Colour.RED, "int_enum": Size.BIG, "in_dict": {"c": Colour.RED}},
]


@pytest.mark.parametrize("state", PLAIN_STATES, ids=range(len(PLAIN_STATES)))
def test_a_state_reads_as_the_sdk_reads_its_struct(mocked: bool, state: dict[str, Any]) -> None:
    read = wire_values.outputs(state)
    assert read is not None
    _same(dict(read), _sdk(state))


def test_numbers_come_back_as_the_struct_carries_them(mocked: bool) -> None:
    read = wire_values.outputs({"port": 5432, "flag": True, "tags": {"n": 1}})
    assert read is not None
    assert type(read["port"]) is float and read["flag"] is True and type(read["tags"]["n"]) is float


SPECIAL_STATES: list[dict[str, Any]] = [
    {"password": {rpc._special_sig_key: rpc._special_secret_sig, "value": "hunter2"}},  # noqa: SLF001
    {"nested": [{"secret": {rpc._special_sig_key: rpc._special_secret_sig, "value": 1}}]},  # noqa: SLF001
    {"code": pulumi.StringAsset("print(1)")},
    {"archive": pulumi.AssetArchive({"a.py": pulumi.StringAsset("x")})},
]


@pytest.mark.parametrize("state", SPECIAL_STATES, ids=range(len(SPECIAL_STATES)))
def test_secrets_and_assets_are_read_by_the_sdk(mocked: bool, state: dict[str, Any]) -> None:
    read = wire_values.outputs(state)
    assert read is not None
    sdk = _sdk(state)
    assert read.keys() == sdk.keys()
    for key in sdk:
        assert rpc.is_rpc_secret(read[key]) == rpc.is_rpc_secret(sdk[key])
        assert type(read[key]) is type(sdk[key])
        if not isinstance(sdk[key], pulumi.Asset | pulumi.Archive):
            _same(read[key], sdk[key], key)


def test_a_secret_keeps_its_mark_through_the_read(mocked: bool) -> None:
    read = wire_values.outputs(SPECIAL_STATES[0])
    assert read is not None and rpc.is_rpc_secret(read["password"])
    assert rpc.unwrap_rpc_secret(read["password"]) == "hunter2"


@pytest.mark.parametrize("state", [{"a set": {1, 2}}, {"keys": {1: "int key"}}, {"huge": 10**400},
                                   {"object": object()}], ids=["set", "int-key", "huge", "object"])
def test_what_a_struct_refuses_is_left_to_the_sdk(mocked: bool, state: dict[str, Any]) -> None:
    """None: the caller answers the SDK's way, which raises the SDK's own error (or not)."""
    try:
        sdk: Any = _sdk(state)
    except Exception as exc:  # noqa: BLE001 - whatever the SDK raises, ours must not answer
        sdk = exc
    read = wire_values.outputs(state)
    if isinstance(sdk, Exception):
        assert read is None
    else:
        assert read is not None
        _same(dict(read), sdk)


def test_a_read_is_handed_back_only_when_asked_alike(mocked: bool) -> None:
    state = {"u": rpc.UNKNOWN, "tags": {"k": "v"}}
    read = wire_values.outputs(state)
    assert read is not None
    replaced = wire_values.deserialize_properties(rpc.deserialize_properties)
    handed = replaced(read, True)
    assert handed == dict(read) and type(handed) is dict
    # Asked another way, the SDK reads the Struct the values would have been.
    _same(replaced(read, False), rpc.deserialize_properties(_serialized(state), False))
    _same(replaced(read, True, False), rpc.deserialize_properties(_serialized(state), True, False))
    # Anything else is the SDK's.
    struct = _serialized(state)
    _same(replaced(struct, True), rpc.deserialize_properties(struct, True))


# --- a registration's inputs ---------------------------------------------------------------
def _struct(serialized: dict[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    for key, value in serialized.items():
        struct[key] = value
    return struct


SERIALIZED_INPUTS: list[dict[str, Any]] = [
    {},
    {"name": "b", "port": 5432, "ratio": 0.5, "whole": 2.0, "on": True, "tags": {"a": "1", "gone": None}},
    {"list": [1, None, "x", [3, {"k": None}]], "tuple": (1, "two"), "empty": {}, "nothing": []},
    {"unknown": rpc.UNKNOWN, "inside": {"u": rpc.UNKNOWN}, "items": [rpc.UNKNOWN]},
    {"password": {rpc._special_sig_key: rpc._special_secret_sig, "value": "hunter2"}, "plain": 1},  # noqa: SLF001
    {"deep": {"secret": [{rpc._special_sig_key: rpc._special_secret_sig, "value": 2}]}},  # noqa: SLF001
]


@pytest.mark.parametrize("serialized", SERIALIZED_INPUTS, ids=range(len(SERIALIZED_INPUTS)))
@pytest.mark.parametrize("keep_unknowns", [True, False, None])
def test_inputs_read_as_the_sdk_reads_their_struct(mocked: bool, serialized: dict[str, Any],
                                                  keep_unknowns: bool | None) -> None:
    written = wire_values.Written(serialized)
    _same(written.read(keep_unknowns), rpc.deserialize_properties(_struct(serialized), keep_unknowns))
    # What resolve_outputs reads: each value through deserialize_property, as from the Struct.
    ours = {k: rpc.deserialize_property(v) for k, v in written.items()}
    theirs = {k: rpc.deserialize_property(v) for k, v in _struct(serialized).items()}
    _same(ours, theirs)
    assert sorted(k for k, _ in written.items()) == sorted(serialized)


def test_a_value_a_struct_refuses_raises_where_the_sdk_would() -> None:
    with pytest.raises(ValueError) as ours:
        wire_values.Written({"ok": 1, "bad": {1, 2}})
    with pytest.raises(ValueError) as theirs:
        _struct({"ok": 1, "bad": {1, 2}})
    assert str(ours.value) == str(theirs.value)


def test_inputs_become_a_written_only_while_a_registration_is_prepared(mocked: bool) -> None:
    serialize = wire_values.serialize_properties(rpc.serialize_properties)
    inputs = {"name": "b", "size": 3, "labels": {"app": "x"}, "skipped": None}

    async def both() -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
        plain_deps: dict[str, Any] = {}
        plain = await serialize(inputs, plain_deps)
        written_deps: dict[str, Any] = {}

        async def during() -> Any:
            return await serialize(inputs, written_deps)

        written = await wire_values.prepare_resource(during)()
        return plain, written, plain_deps, written_deps

    plain, written, plain_deps, written_deps = asyncio.get_event_loop().run_until_complete(both())
    assert type(plain) is not wire_values.Written  # an invoke's, a component's outputs: a Struct
    assert type(written) is wire_values.Written
    assert written.as_struct() == plain and written_deps == plain_deps
    assert not wire_values._WRITING.get()  # noqa: SLF001 - the flag is the prepared task's only


def test_the_request_object_has_the_message_fields_and_defaults() -> None:
    from pulumi.runtime.proto import resource_pb2

    shim = wire_values.request_module(resource_pb2)
    depends = resource_pb2.RegisterResourceRequest.PropertyDependencies(urns=["u"])
    given = {"type": "aws:s3/bucket:Bucket", "name": "b", "custom": True, "protect": None,
             "dependencies": {"urn:a"}, "providers": {"aws": "urn:p::id"}, "aliasURNs": None,
             "propertyDependencies": {"x": depends}, "retainOnDelete": None, "deletedWith": ""}
    real = resource_pb2.RegisterResourceRequest(**given)
    ours = shim.RegisterResourceRequest(**{**given, "propertyDependencies": {
        "x": shim.RegisterResourceRequest.PropertyDependencies(urns=["u"])}})
    for field in resource_pb2.RegisterResourceRequest.DESCRIPTOR.fields:
        theirs, mine = getattr(real, field.name), getattr(ours, field.name)
        if field.name == "propertyDependencies":
            assert {k: list(v.urns) for k, v in theirs.items()} == {k: v.urns for k, v in mine.items()}
        elif field.label == field.LABEL_REPEATED:
            assert list(theirs) == list(mine), field.name
        elif field.type == field.TYPE_MESSAGE:
            assert mine is None and not real.HasField(field.name), field.name
        else:
            assert theirs == mine and type(theirs) is type(mine), field.name
    with pytest.raises(ValueError, match="no 'nonsense' field"):
        shim.RegisterResourceRequest(nonsense=1)
    assert shim.Result.SUCCESS == resource_pb2.Result.SUCCESS  # the rest is the real module's
    assert shim.RegisterResourceRequest.CustomTimeouts is resource_pb2.RegisterResourceRequest.CustomTimeouts


def test_a_program_records_the_same_with_and_without_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets, unknowns (a preview), a resource as an input, an asset, an enum, nested values."""
    import pulumi_aws as aws
    import pulumi_kubernetes as k8s

    from tenantctl import sdk_fast
    from tenantctl.mock_engine import run_program

    def program() -> None:
        key = aws.kms.Key("key", description="k", deletion_window_in_days=7, tags={"b": "2", "a": "1"})
        aws.s3.BucketV2("bucket", bucket="b", tags={"key": key.arn, "n": "1"})
        aws.secretsmanager.SecretVersion("secret", secret_id=key.id,
                                         secret_string=pulumi.Output.secret("hunter2"))
        aws.lambda_.Function("fn", role=key.arn, runtime=aws.lambda_.Runtime.PYTHON3D12, handler="h",
                             code=pulumi.AssetArchive({"a.py": pulumi.StringAsset("x = 1")}),
                             environment={"variables": {"A": key.key_id, "EMPTY": ""}})
        k8s.core.v1.ConfigMap("cm", metadata={"name": "cm", "labels": {"z": "1", "a": "2"}},
                              data={"port": "80", "ref": key.arn})

    written: list[wire_values.Written] = []
    real_init = wire_values.Written.__init__

    def counting(self: wire_values.Written, serialized: dict[str, Any]) -> None:
        written.append(self)
        real_init(self, serialized)

    monkeypatch.setattr(wire_values.Written, "__init__", counting)

    def recorded(fast: bool, preview: bool) -> list[dict[str, Any]]:
        monkeypatch.setenv(sdk_fast.ENV, "1" if fast else "0")
        written.clear()
        plan = [r.as_plan() | {"outputs": r.outputs} for r in run_program(program, preview=preview).resources]
        assert (len(written) >= 5) is fast  # the fast path wrote every registration's inputs; the SDK none
        return plan

    for preview in (False, True):
        ours, theirs = recorded(True, preview), recorded(False, preview)
        assert len(ours) == len(theirs) == 5
        _same(ours, theirs)
        secret = next(r for r in ours if r["type"] == "aws:secretsmanager/secretVersion:SecretVersion")
        assert secret["inputs"]["secretString"] == "[secret]"

"""The SDK fast path: only for the pinned SDK, really installed, and no byte of a plan changes.

The hostile cases first: another SDK version (or the switch off) must leave the SDK's
functions untouched, and the comparison must see a plan that differs.
"""

from __future__ import annotations

import asyncio
import enum
import importlib.util
import sys
import threading
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pulumi import _types
from pulumi import log as pulumi_log
from pulumi import output as pulumi_output
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc

from tenantctl import sdk_fast

ROOT = Path(__file__).resolve().parents[2]
_PATCHED = ((_types, "unwrap_type"), (_types, "unwrap_optional_type"), (_types, "_is_optional_type"),
            (rpc, "contains_unknowns"), (pulumi_output, "contains_unknowns"),
            (rpc, "serialize_property"), (rpc, "deserialize_property"), (rpc, "translate_output_properties"),
            (_types, "resource_types"), (_types, "resource_pulumi_to_py_names"),
            (pulumi_resource, "create_urn"), (pulumi_log, "debug"), (rpc, "deserialize_properties"),
            (rpc, "serialize_properties"), (pulumi_resource, "prepare_resource"),
            (pulumi_resource, "resource_pb2"))


def _current() -> list[object]:
    return [getattr(module, name) for module, name in _PATCHED] + [pulumi_output.Output._track]


@pytest.fixture(scope="module")
def check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fast_path_check", ROOT / "bench" / "fast_path_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fast_path_check"] = module
    spec.loader.exec_module(module)
    return module


def test_the_guard_is_the_version_pyproject_pins() -> None:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"pulumi=={sdk_fast.PINNED_SDK}" in pins


@pytest.mark.parametrize("version", ["3.271.0", "3.272.1", "4.0.0"])
def test_another_sdk_version_runs_the_sdk_untouched(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    assert not sdk_fast.enabled(version)
    monkeypatch.setattr(sdk_fast.metadata, "version", lambda _name: version)
    before = _current()
    with sdk_fast.installed() as on:
        assert not on
        assert _current() == before
    loop = asyncio.new_event_loop()
    with sdk_fast.monitor_inline(loop) as inline:
        assert not inline
        assert "run_in_executor" not in vars(loop)
    loop.close()


def test_the_monitor_is_called_in_place_and_the_pool_restored_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sdk_fast.ENV, raising=False)
    loop = asyncio.new_event_loop()
    threads: list[int] = []

    def call(fail: bool) -> int:
        threads.append(threading.get_ident())
        if fail:
            raise KeyError("no such resource")
        return 7

    async def both() -> tuple[int, BaseException | None]:
        ok = await loop.run_in_executor(None, call, False)
        try:
            await loop.run_in_executor(None, call, True)
        except KeyError as exc:
            return ok, exc
        return ok, None

    with sdk_fast.monitor_inline(loop) as inline:
        assert inline
        ok, error = loop.run_until_complete(both())
    assert ok == 7 and isinstance(error, KeyError)
    assert threads == [threading.get_ident()] * 2  # in place, on the loop's thread
    assert "run_in_executor" not in vars(loop)
    loop.run_until_complete(loop.run_in_executor(None, call, False))
    assert threads[-1] != threading.get_ident()  # the pool again
    loop.close()


def test_switched_off_runs_the_sdk_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sdk_fast.ENV, "0")
    before = _current()
    with sdk_fast.installed() as on:
        assert not on
        assert _current() == before


def test_installed_for_the_pinned_sdk_and_restored_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sdk_fast.ENV, raising=False)
    before = _current()
    with sdk_fast.installed() as on:
        assert on
        assert all(a is not b for a, b in zip(_current(), before, strict=True))
    assert _current() == before


def test_replacements_answer_as_the_sdk_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from typing import Optional, Union

    import pulumi

    monkeypatch.delenv(sdk_fast.ENV, raising=False)
    # typing's Optional and Union, as the generated provider SDKs annotate, and ``X | None``.
    inputs: Any = pulumi.Input  # a Union alias: subscripted at run time, as the SDKs do
    types = [str, Optional[str], Union[str, int, None], Union[int, str], inputs[str],  # noqa: UP007, UP045
             inputs[Optional[int]], pulumi.Output[str], list[inputs[str]], dict,  # noqa: UP045
             str | None, int | str]
    values = ["x", 1, 1.5, True, None, [], {}, {"a": [pulumi_output.UNKNOWN]}, [1, {"b": "c"}],
              pulumi_output.UNKNOWN]
    names = ("unwrap_type", "unwrap_optional_type", "_is_optional_type")
    expected = [[getattr(_types, n)(t) for t in types] for n in names]
    unknowns = [rpc.contains_unknowns(v) for v in values]
    with sdk_fast.installed():
        for _ in range(2):  # the second time from the cache
            assert [[getattr(_types, n)(t) for t in types] for n in names] == expected
        assert [rpc.contains_unknowns(v) for v in values] == unknowns
        assert [pulumi_output.contains_unknowns(v) for v in values] == unknowns


class _Colour(str, enum.Enum):  # noqa: UP042 - as the provider SDKs declare their enums
    RED = "red"


def test_serializing_answers_as_the_sdk_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scalars come back unchanged, anything else (an Enum of str, the unknown sentinel) as the SDK says."""
    from google.protobuf import struct_pb2

    monkeypatch.delenv(sdk_fast.ENV, raising=False)
    values: list[Any] = ["x", "", 0, 7, 2**60, 1.5, True, False, None, _Colour.RED, [1, "a", None],
                         {"a": {"b": [True, _Colour.RED]}, "n": None}, (1, 2), rpc.UNKNOWN]
    protobuf_values = [struct_pb2.Value(string_value="s"), struct_pb2.Value(number_value=3)]

    def serialized(value: Any, protobuf: bool = False) -> Any:
        deps: list[Any] = []
        result = asyncio.run(rpc.serialize_property(value, deps, "key", return_protobuf_value=protobuf))
        return result, deps

    def named(value: Any) -> Any:  # Unknown() compares by identity: name it
        if isinstance(value, dict):
            return {k: named(v) for k, v in value.items()}
        if isinstance(value, list):
            return [named(v) for v in value]
        return "Unknown" if isinstance(value, pulumi_output.Unknown) else value

    def deserialized(value: Any, keep_unknowns: bool | None = None) -> Any:
        return named(rpc.deserialize_property(value, keep_unknowns))

    struct = struct_pb2.Struct()
    struct.update({"a": [1, "b", {"c": None}], "u": rpc.UNKNOWN})
    wire = ["x", rpc.UNKNOWN, 1.0, True, None, struct, struct["a"], 5]
    expected = ([serialized(v) for v in values], [serialized(v, True) for v in values + protobuf_values],
                [deserialized(v, k) for v in wire for k in (None, True)])
    with sdk_fast.installed() as on:
        assert on
        assert ([serialized(v) for v in values], [serialized(v, True) for v in values + protobuf_values],
                [deserialized(v, k) for v in wire for k in (None, True)]) == expected
    assert "Unknown" in expected[2]  # the sentinel was seen as unknown, both ways


def test_output_translation_answers_as_the_sdk_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every scalar against every kind of declared type (an Enum, an int for a float...), as the SDK."""
    from typing import Optional

    import pulumi_aws as aws

    monkeypatch.delenv(sdk_fast.ENV, raising=False)
    values: list[Any] = ["red", "", 3.0, 3.5, 7, True, None, {"a": 1.0}, [2.0]]
    types: list[Any] = [None, Any, str, int, float, bool, _Colour, Optional[int], Optional[_Colour],  # noqa: UP045
                        list[int], dict[str, int]]

    def translated() -> list[Any]:
        answers = []
        for value in values:
            for typ in types:
                try:
                    result = rpc.translate_output_properties(value, lambda k: k, typ)
                    answers.append((type(result).__name__, result))
                except (ValueError, AssertionError, TypeError) as exc:
                    answers.append((type(exc).__name__, str(exc)))
        return answers

    classes = [aws.s3.Bucket, aws.iam.Role, aws.rds.Instance]
    expected = (translated(), [_types.resource_types(c) for c in classes],
                [_types.resource_pulumi_to_py_names(c) for c in classes])
    with sdk_fast.installed() as on:
        assert on
        for _ in range(2):  # the second time from the cache
            got = (translated(), [_types.resource_types(c) for c in classes],
                   [_types.resource_pulumi_to_py_names(c) for c in classes])
            assert got == expected
        mine = _types.resource_types(aws.s3.Bucket)
        mine.clear()  # a caller's copy: the next caller is not affected
        assert _types.resource_types(aws.s3.Bucket) == expected[1][0]
    assert ("int", 3) in expected[0] and ("_Colour", _Colour.RED) in expected[0]  # the SDK's conversions


def test_urns_are_the_ones_the_sdk_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """At the root, under a parent URN, with a project and stack given, and from outputs (the SDK's way)."""
    import pulumi

    from tenantctl.mock_engine import _Mocks

    monkeypatch.delenv(sdk_fast.ENV, raising=False)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(_Mocks(), project="proj", stack="dev", preview=False)
    parent = "urn:pulumi:dev::proj::pkg:index:Component::outer"
    calls: list[tuple[Any, ...]] = [
        ("b", "aws:s3/bucket:Bucket"), ("b", "aws:s3/bucket:Bucket", parent),
        ("b", "aws:s3/bucket:Bucket", None, "other", "prod"),
        ("nested", "k8s:v1:Pod", parent + "$x:y:Z::mid"),
    ]

    def urns(outputs: bool) -> list[str | None]:
        async def resolve() -> list[str | None]:
            made = [pulumi_resource.create_urn(*(pulumi.Output.from_input(a) if outputs and i < 2 else a
                                                 for i, a in enumerate(c))) for c in calls]
            return [await m.future() for m in made]
        return loop.run_until_complete(resolve())

    expected = urns(False)
    with sdk_fast.installed() as on:
        assert on
        assert urns(False) == expected
        assert urns(True) == expected  # outputs go to the SDK
    assert expected[1] == "urn:pulumi:dev::proj::pkg:index:Component$aws:s3/bucket:Bucket::b"
    assert expected[2] == "urn:pulumi:prod::other::aws:s3/bucket:Bucket::b"
    loop.close()
    asyncio.set_event_loop(asyncio.new_event_loop())  # leave the next test an open loop


def test_debug_lines_are_dropped_only_where_the_mock_engine_would_drop_them(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.proto import engine_pb2

    from tenantctl.mock_engine import _Mocks

    monkeypatch.delenv(sdk_fast.ENV, raising=False)
    pulumi.runtime.set_mocks(_Mocks(), project="proj", stack="dev", preview=False)
    engine = settings.get_engine()
    sent: list[Any] = []
    monkeypatch.setattr(engine, "Log", sent.append)
    with sdk_fast.installed():
        caplog.set_level(logging.WARNING, logger="")
        pulumi_log.debug("dropped")
        assert sent == []  # no request built: the logger would drop it
        caplog.set_level(logging.DEBUG, logger="")
        pulumi_log.debug("kept")
        pulumi_log.warn("warned")  # not debug: always the SDK's
    assert [(r.severity, r.message) for r in sent] == [(engine_pb2.DEBUG, "kept"),
                                                       (engine_pb2.WARNING, "warned")]


def test_the_comparison_sees_a_changed_or_missing_file(tmp_path: Path, check: ModuleType) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "plan.json").write_bytes(b'{"a": 1, "b": [1, "x"]}\n')
    namespace = b"# note\nkind: Namespace\nmetadata: {name: a, labels: {x: y}}\n"
    (tmp_path / "manifests" / "ns.yaml").write_bytes(namespace)
    written = check.files(tmp_path)
    assert set(written) == {"plan.json", "manifests/ns.yaml"}
    assert check.compare(written, dict(written)).differ == []
    # The same keys in another order: the same plan, not byte for byte.
    reordered = {"plan.json": b'{"b": [1, "x"], "a": 1}\n',
                 "manifests/ns.yaml": b"# note\nmetadata: {labels: {x: y}, name: a}\nkind: Namespace\n"}
    found = check.compare(written, reordered)
    assert (found.compared, found.identical, found.differ) == (2, 0, [])
    # Anything else differs: a value, a type (1.0 for 1), a list's order, a key, a comment, a file.
    for changed in (b'{"a": 2, "b": [1, "x"]}', b'{"a": 1.0, "b": [1, "x"]}', b'{"a": 1, "b": ["x", 1]}',
                    b'{"a": 1, "b": [1, "x"], "c": null}'):
        assert check.compare(written, {**written, "plan.json": changed}).differ == ["plan.json"]
    uncommented = {**written, "manifests/ns.yaml": namespace.removeprefix(b"# note\n")}
    assert check.compare(written, uncommented).differ == ["manifests/ns.yaml"]
    assert check.compare(written, {"plan.json": written["plan.json"]}).differ == ["manifests/ns.yaml"]


def test_plans_with_and_without_differ_only_in_the_order_of_keys(tmp_path: Path, check: ModuleType) -> None:
    # Nine tenants of the benchmark's mix are every tier: namespace, node, vcluster and a
    # dedicated cluster; planned in worker processes (two), as a fleet is.
    found = check.differences(9, tmp_path, cells=1, workers=2)
    assert found.compared > 100  # plan.json and the manifests of both stacks
    assert found.differ == []

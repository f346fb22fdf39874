"""Render recorded Kubernetes resources as plain manifests (one YAML file per object)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from tenantctl import mock_outputs

#: libyaml's emitter where PyYAML was built with it: the same YAML, about five times faster
#: than the pure-Python one (a large fleet writes tens of thousands of manifests).
_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

#: Kubernetes type tokens that are not objects in the cluster (providers, chart components).
NOT_OBJECTS = ("pulumi:providers:kubernetes", "kubernetes:helm.sh/", "kubernetes:yaml/")


def is_manifest(resource: dict[str, Any]) -> bool:
    """True for a recorded resource that is one Kubernetes object."""
    type_ = resource["type"]
    if not type_.startswith("kubernetes:") or type_.startswith(NOT_OBJECTS):
        return False
    inputs = resource.get("inputs") or {}
    return bool(inputs.get("apiVersion")) and bool(inputs.get("kind"))


def manifest(resource: dict[str, Any]) -> dict[str, Any]:
    """The object as ``kubectl apply`` would take it (apiVersion and kind first)."""
    inputs = dict(resource["inputs"])
    head = {"apiVersion": inputs.pop("apiVersion"), "kind": inputs.pop("kind")}
    return {**head, **inputs}


def manifests(resources: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every Kubernetes object among recorded resources, as manifests."""
    return (manifest(r) for r in resources if is_manifest(r))


def manifest_path(obj: dict[str, Any]) -> Path:
    """``<namespace or _cluster>/<kind>-<name>.yaml`` for one object."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or "_cluster"
    name = meta.get("name") or "unnamed"
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else "core"
    return Path(namespace) / f"{obj['kind'].lower()}.{group}-{name}.yaml"


def mock_note(resource: dict[str, Any], body: str) -> str:
    """The comment that marks values of an offline plan the mock engine invented ("" if none).

    Inputs computed from other resources' outputs (``options.propertyDependencies``) hold
    invented ids, ARNs and endpoints; the mock account id can reach any string.
    """
    fields = sorted((resource.get("options") or {}).get("propertyDependencies") or {})
    lines = []
    if fields:
        lines.append(f"# mock values: {', '.join(fields)} take other resources' outputs, which an "
                     "offline plan invents")
    if mock_outputs.ACCOUNT_ID in body:
        lines.append(f"# mock values: account {mock_outputs.ACCOUNT_ID} is the mock engine's, not a real one")
    return "".join(f"{line}\n" for line in lines)


def write_manifests(resources: Iterable[dict[str, Any]], directory: Path) -> int:
    """Write one YAML file per Kubernetes object under ``directory``; return the count."""
    count = 0
    made: set[Path] = set()  # directories made so far: one mkdir per namespace, not per file
    for resource in resources:
        if not is_manifest(resource):
            continue
        obj = manifest(resource)
        path = directory / manifest_path(obj)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        body = yaml.dump(obj, Dumper=_DUMPER, sort_keys=False)
        try:
            with path.open("x", encoding="utf-8") as stream:  # "x": never overwrite another object
                stream.write(mock_note(resource, body) + body)
        except FileExistsError:
            raise FileExistsError(f"two objects render to {path}: names must be unique per kind") from None
        count += 1
    return count

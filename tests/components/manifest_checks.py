"""Strict validation of rendered manifests: built-in kinds against the pinned Kubernetes
schema, and the Istio custom resources the tenant components render against schemas of
their own (the Kubernetes schema does not know CRDs).

The Istio schemas are written from the Istio API reference (networking/v1, security/v1,
networking/v1alpha3 EnvoyFilter) for exactly the fields the platform sets, with
``additionalProperties: false`` at every level we write: an unknown or misspelt field, or
an enum value Istio does not have, fails like it would fail Istio's CRD validation.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate

from components.versions import KUBERNETES_VERSION
from tenantctl.manifests import manifests

SCHEMA_VERSION = f"{KUBERNETES_VERSION}.0"


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


_STR = {"type": "string", "minLength": 1}
_STRS = {"type": "array", "items": _STR, "minItems": 1}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = _obj({"name": _STR, "namespace": _STR, "labels": _LABELS}, ("name", "namespace"))
_PORT = {"type": "number", "minimum": 1, "maximum": 65535}
_FREE = {"type": "object"}  # Envoy configuration: shape checked by the component tests


def _kind(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _obj({"apiVersion": {"const": api_version}, "kind": {"const": kind},
                 "metadata": _METADATA, "spec": spec}, ("apiVersion", "kind", "metadata", "spec"))


_SOURCE = _obj({"namespaces": _STRS, "principals": _STRS, "ipBlocks": _STRS,
                "requestPrincipals": _STRS, "notNamespaces": _STRS, "notPrincipals": _STRS})
_ISTIO_PORT = _obj({"number": _PORT, "name": _STR, "protocol": _enum(
    "HTTP", "HTTPS", "GRPC", "HTTP2", "MONGO", "TCP", "TLS"), "targetPort": _PORT}, ("number", "name"))
_PATCH_CONTEXT = _enum("ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY")

ISTIO_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("security.istio.io/v1", "PeerAuthentication"): _kind(
        "security.istio.io/v1", "PeerAuthentication",
        _obj({"selector": _obj({"matchLabels": _LABELS}),
              "mtls": _obj({"mode": _enum("UNSET", "DISABLE", "PERMISSIVE", "STRICT")}, ("mode",))})),
    ("security.istio.io/v1", "AuthorizationPolicy"): _kind(
        "security.istio.io/v1", "AuthorizationPolicy",
        _obj({"selector": _obj({"matchLabels": _LABELS}),
              "action": _enum("ALLOW", "DENY", "AUDIT", "CUSTOM"),
              "rules": {"type": "array", "items": _obj({
                  "from": {"type": "array", "items": _obj({"source": _SOURCE}, ("source",))}})}})),
    ("networking.istio.io/v1", "Sidecar"): _kind(
        "networking.istio.io/v1", "Sidecar",
        _obj({"workloadSelector": _obj({"labels": _LABELS}),
              "egress": {"type": "array", "items": _obj({"hosts": _STRS}, ("hosts",))},
              "outboundTrafficPolicy": _obj({"mode": _enum("REGISTRY_ONLY", "ALLOW_ANY")}, ("mode",))})),
    ("networking.istio.io/v1", "ServiceEntry"): _kind(
        "networking.istio.io/v1", "ServiceEntry",
        _obj({"hosts": _STRS, "addresses": _STRS, "ports": {"type": "array", "items": _ISTIO_PORT},
              "location": _enum("MESH_EXTERNAL", "MESH_INTERNAL"),
              "resolution": _enum("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"),
              "exportTo": _STRS}, ("hosts",))),
    ("networking.istio.io/v1alpha3", "EnvoyFilter"): _kind(
        "networking.istio.io/v1alpha3", "EnvoyFilter",
        _obj({"workloadSelector": _obj({"labels": _LABELS}, ("labels",)),
              "configPatches": {"type": "array", "minItems": 1, "items": _obj({
                  "applyTo": _enum("LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER",
                                   "ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE", "CLUSTER",
                                   "EXTENSION_CONFIG", "BOOTSTRAP", "LISTENER_FILTER"),
                  "match": _obj({"context": _PATCH_CONTEXT, "listener": _FREE,
                                 "routeConfiguration": _FREE, "cluster": _FREE}),
                  "patch": _obj({"operation": _enum("MERGE", "ADD", "REMOVE", "INSERT_BEFORE",
                                                    "INSERT_AFTER", "INSERT_FIRST", "REPLACE"),
                                 "value": _FREE}, ("operation",)),
              }, ("applyTo", "patch"))}}, ("configPatches",))),
}


def validate(obj: dict[str, Any]) -> None:
    """Raise if ``obj`` is not a valid object of its kind (built-in or known Istio kind)."""
    key = (obj["apiVersion"], obj["kind"])
    if key in ISTIO_SCHEMAS:
        jsonschema.validate(obj, ISTIO_SCHEMAS[key])
        return
    kubernetes_validate.validate(obj, SCHEMA_VERSION, strict=True)


def recorded_manifests(run: Any) -> list[dict[str, Any]]:
    """Every Kubernetes object a mock program run declared, as the plan renders it."""
    return list(manifests(r.as_plan() for r in run.resources))


def validate_all(objects: list[dict[str, Any]]) -> None:
    """Validate each object; on failure name the object and the first error."""
    for obj in objects:
        try:
            validate(obj)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            raise AssertionError(f"{obj['kind']} {obj['metadata'].get('name')}: {exc.message} "
                                 f"at {list(exc.path)}") from exc

"""Strict validation of rendered manifests, the one place every test checks them.

Built-in kinds are validated against the pinned Kubernetes schema (``kubernetes_validate``,
strict: unknown fields rejected). The Kubernetes schema does not know CRDs, so the custom
resources the platform renders (Istio networking/v1, security/v1 and networking/v1alpha3
EnvoyFilter; cert-manager v1 Certificate and ClusterIssuer; Prometheus Operator
monitoring.coreos.com/v1 PodMonitor and PrometheusRule) get JSON schemas written from their
API references for the fields the platform sets, with ``additionalProperties: false`` at
every level we write: a misspelt field or an enum value the CRD does not have fails here as
the API server's CRD validation would fail it. A custom kind with no schema here fails too.
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


def _array(items: dict[str, Any], min_items: int = 1) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": min_items}


_STR = {"type": "string", "minLength": 1}
_STRS = _array(_STR)
_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_LABELS = _MAP
_INT = {"type": "integer"}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"}
_FREE = {"type": "object"}  # Envoy configuration: shape checked by the component tests
_NAMESPACED = _obj({"name": _STR, "namespace": _STR, "labels": _MAP, "annotations": _MAP},
                   ("name", "namespace", "labels"))
_CLUSTER_SCOPED = _obj({"name": _STR, "labels": _MAP, "annotations": _MAP}, ("name",))


def _kind(api_version: str, kind: str, spec: dict[str, Any], *, namespaced: bool = True) -> dict[str, Any]:
    return _obj({"apiVersion": {"const": api_version}, "kind": {"const": kind},
                 "metadata": _NAMESPACED if namespaced else _CLUSTER_SCOPED, "spec": spec},
                ("apiVersion", "kind", "metadata", "spec"))


_SOURCE = _obj({"namespaces": _STRS, "principals": _STRS, "ipBlocks": _STRS,
                "requestPrincipals": _STRS, "notNamespaces": _STRS, "notPrincipals": _STRS})
_ISTIO_PORT = _obj({"number": _PORT, "name": _STR, "protocol": _enum(
    "HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS"), "targetPort": _PORT},
    ("number", "name"))
_PATCH_CONTEXT = _enum("ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY")

_LABEL_SELECTOR = _obj({"matchLabels": _MAP, "matchExpressions": _array(_obj(
    {"key": _STR, "operator": _enum("In", "NotIn", "Exists", "DoesNotExist"), "values": _STRS},
    ("key", "operator")))})
_RELABEL = _obj({
    "action": _enum("replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep",
                    "lowercase", "uppercase", "keepequal", "dropequal"),
    "sourceLabels": _STRS, "separator": {"type": "string"}, "regex": _STR, "replacement": {"type": "string"},
    "targetLabel": _STR, "modulus": _INT})
_RULE = {"oneOf": [
    _obj({"alert": _STR, "expr": _STR, "for": _DURATION, "keep_firing_for": _DURATION,
          "labels": _MAP, "annotations": _MAP}, ("alert", "expr")),
    _obj({"record": _STR, "expr": _STR, "labels": _MAP}, ("record", "expr")),
]}
_GATEWAY_PORT = _obj({**_ISTIO_PORT["properties"]}, ("number", "protocol", "name"))
_DESTINATION = _obj({"host": _STR, "subset": _STR, "port": _obj({"number": _PORT}, ("number",))}, ("host",))

SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
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

    ("cert-manager.io/v1", "Certificate"): _kind("cert-manager.io/v1", "Certificate", _obj({
        "secretName": _STR,
        "dnsNames": _STRS,
        "issuerRef": _obj({"name": _STR, "kind": _enum("Issuer", "ClusterIssuer"), "group": _STR}, ("name",)),
        "privateKey": _obj({"algorithm": _enum("RSA", "ECDSA", "Ed25519"), "size": _INT,
                            "rotationPolicy": _enum("Never", "Always"),
                            "encoding": _enum("PKCS1", "PKCS8")}),
        "secretTemplate": _obj({"labels": _MAP, "annotations": _MAP}),
        "duration": _DURATION, "renewBefore": _DURATION,
    }, ("secretName", "issuerRef"))),
    ("networking.istio.io/v1", "Gateway"): _kind("networking.istio.io/v1", "Gateway", _obj({
        "selector": _MAP,
        "servers": _array(_obj({
            "port": _GATEWAY_PORT, "hosts": _STRS, "name": _STR, "bind": _STR,
            "tls": _obj({"mode": _enum("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH",
                                       "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"),
                         "credentialName": _STR, "httpsRedirect": {"type": "boolean"},
                         "minProtocolVersion": _enum("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"),
                         "maxProtocolVersion": _enum("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2",
                                                     "TLSV1_3")}),
        }, ("port", "hosts"))),
    }, ("servers",))),
    ("networking.istio.io/v1", "VirtualService"): _kind("networking.istio.io/v1", "VirtualService", _obj({
        "hosts": _STRS, "gateways": _STRS, "exportTo": _STRS,
        "http": _array(_obj({
            "name": _STR, "timeout": _DURATION,
            "route": _array(_obj({"destination": _DESTINATION, "weight": _INT}, ("destination",))),
        }, ("route",))),
    }, ("hosts",))),
    ("monitoring.coreos.com/v1", "PodMonitor"): _kind("monitoring.coreos.com/v1", "PodMonitor", _obj({
        "selector": _LABEL_SELECTOR,
        "namespaceSelector": _obj({"any": {"type": "boolean"}, "matchNames": _STRS}),
        "jobLabel": _STR,
        "podMetricsEndpoints": _array(_obj({
            "port": _STR, "path": _STR, "scheme": _enum("http", "https"), "interval": _DURATION,
            "scrapeTimeout": _DURATION, "honorLabels": {"type": "boolean"},
            "relabelings": _array(_RELABEL), "metricRelabelings": _array(_RELABEL)})),
    }, ("selector", "podMetricsEndpoints"))),
    ("monitoring.coreos.com/v1", "PrometheusRule"): _kind("monitoring.coreos.com/v1", "PrometheusRule", _obj({
        "groups": _array(_obj({"name": _STR, "interval": _DURATION, "rules": _array(_RULE)},
                              ("name", "rules"))),
    }, ("groups",))),
    ("cert-manager.io/v1", "ClusterIssuer"): _kind("cert-manager.io/v1", "ClusterIssuer", _obj({
        "acme": _obj({
            "server": {"type": "string", "pattern": "^https://"}, "email": _STR,
            "privateKeySecretRef": _obj({"name": _STR}, ("name",)),
            "solvers": _array(_obj({"dns01": _obj({"route53": _obj({"region": _STR}, ("region",))})})),
        }, ("server", "privateKeySecretRef", "solvers")),
    }, ("acme",)), namespaced=False),
}


def validate(obj: dict[str, Any]) -> None:
    """Raise if ``obj`` is not a valid object of its kind (built-in or a CRD above)."""
    key = (obj["apiVersion"], obj["kind"])
    if key in SCHEMAS:
        jsonschema.validate(obj, SCHEMAS[key])
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


def as_integers(value: Any) -> Any:
    """Recorded engine values with whole floats back as integers (the wire has no int type)."""
    if isinstance(value, dict):
        return {k: as_integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_integers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value

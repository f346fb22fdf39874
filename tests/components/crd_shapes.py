"""Shapes of the custom resources the file server, chatbot and monitoring render.

The Kubernetes schema does not know CRDs, so these JSON schemas are written from the
API references (cert-manager v1 Certificate, Istio networking/v1 Gateway and
VirtualService, Prometheus Operator monitoring.coreos.com/v1 PodMonitor and
PrometheusRule) for the fields the platform sets, with ``additionalProperties: false``
at every level we write: a misspelt field or an enum value the CRD does not have fails
here as the API server's CRD validation would fail it. Built-in kinds go to
``kubernetes_validate`` strictly, against the platform's pinned Kubernetes version.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate

from components.versions import KUBERNETES_VERSION

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
_INT = {"type": "integer"}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"}
_METADATA = _obj({"name": _STR, "namespace": _STR, "labels": _MAP, "annotations": _MAP},
                 ("name", "namespace", "labels"))


def _kind(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _obj({"apiVersion": {"const": api_version}, "kind": {"const": kind},
                 "metadata": _METADATA, "spec": spec}, ("apiVersion", "kind", "metadata", "spec"))


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
_ISTIO_PORT = _obj({"number": _PORT, "name": _STR, "protocol": _enum(
    "HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS"), "targetPort": _PORT},
    ("number", "protocol", "name"))
_DESTINATION = _obj({"host": _STR, "subset": _STR, "port": _obj({"number": _PORT}, ("number",))}, ("host",))

SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
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
            "port": _ISTIO_PORT, "hosts": _STRS, "name": _STR, "bind": _STR,
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
}


def validate(obj: dict[str, Any]) -> None:
    """Raise if ``obj`` is not a valid object of its kind (built-in or a CRD above)."""
    key = (obj["apiVersion"], obj["kind"])
    if key in SCHEMAS:
        jsonschema.validate(obj, SCHEMAS[key])
        return
    kubernetes_validate.validate(obj, SCHEMA_VERSION, strict=True)


def as_integers(value: Any) -> Any:
    """Recorded engine values with whole floats back as integers (the wire has no int type)."""
    if isinstance(value, dict):
        return {k: as_integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_integers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value

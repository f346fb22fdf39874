"""Evaluate ValidatingAdmissionPolicies offline with cel-python, as the API server would.

The policies' own CEL (matchConditions, variables, validations) is read from the rendered
manifests and evaluated against an admission request. What the API server does and this
evaluator mirrors:

- a binding applies if its policy's resource rules match the request (resource or
  ``resource/subresource``, operation) and its namespace selector matches the namespace's
  labels (``matchLabels`` and ``Exists``/``DoesNotExist``/``In``/``NotIn`` expressions);
- a match condition that is false skips the policy; one that errors denies it
  (``failurePolicy: Fail``); variables are evaluated in order and may use earlier ones; a
  validation that is false or errors denies (an errored variable errors its users);
- ``object``/``oldObject`` are null where Kubernetes makes them null (DELETE, CREATE).

Differences from Kubernetes CEL, stated plainly: cel-python 0.5 has no optional syntax
(``.?``), no Kubernetes library functions (``quantity``, ``url``, ``ip``/``cidr``,
``authorizer``, the strings/lists extensions); the policies use none of them, and
:func:`check_supported` refuses an expression that does. cel-python's ``has()`` on a
missing intermediate field returns false where Kubernetes errors: the policies guard every
intermediate field, so both agree on the rendered policies. Comparing a map with ``null``
by ``!=`` errors in cel-python, so the policies only use ``== null``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import celpy
from celpy import celtypes

#: Kubernetes CEL functions cel-python does not implement.
UNSUPPORTED = re.compile(
    r"\.\?|\b(quantity|url|ip|cidr|isQuantity|isURL|isIP|isCIDR|authorizer|format|"
    r"sortBy|indexOf|lastIndexOf|lowerAscii|upperAscii|replace|split|join|"
    r"substring|trim|reverse)\s*\("
)
_ENV = celpy.Environment()


def check_supported(expression: str) -> None:
    """Raise if an expression uses a Kubernetes CEL extension this evaluator lacks."""
    found = UNSUPPORTED.search(expression)
    if found:
        raise ValueError(
            f"expression uses {found.group(0)!r}, which cel-python cannot evaluate: {expression}"
        )


def _program(expression: str) -> Any:
    check_supported(expression)
    return _ENV.program(_ENV.compile(expression))


def _eval(expression: str, activation: Mapping[str, Any]) -> Any:
    result = _program(expression).evaluate(dict(activation))
    if isinstance(result, celpy.CELEvalError):
        raise result
    return result


@dataclass(frozen=True)
class Request:
    """An admission request: who, what, how."""

    username: str
    operation: str
    resource: str
    namespace: str
    subresource: str = ""
    groups: tuple[str, ...] = ()

    def as_cel(self) -> dict[str, Any]:
        """The ``request`` variable."""
        return {
            "operation": self.operation,
            "namespace": self.namespace,
            "resource": {"resource": self.resource},
            "subResource": self.subresource,
            "userInfo": {"username": self.username, "groups": list(self.groups)},
        }


@dataclass
class Decision:
    """Whether the request is admitted, and each denying policy's reason."""

    denials: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        """True if no policy denied."""
        return not self.denials


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if (
            (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
            or (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and key in labels and labels[key] in values)
        ):
            return False
    return True


def rule_matches(policy: Mapping[str, Any], request: Request) -> bool:
    """Whether the policy's resource rules cover the request's resource and operation."""
    resource = request.resource + (f"/{request.subresource}" if request.subresource else "")
    for rule in policy["spec"]["matchConstraints"]["resourceRules"]:
        if request.operation not in rule["operations"] and "*" not in rule["operations"]:
            continue
        if resource in rule["resources"] or ("*" in rule["resources"] and not request.subresource):
            return True
    return False


def evaluate_policy(
    policy: Mapping[str, Any], request: Request, *, obj: Any, old: Any, namespace: Mapping[str, Any]
) -> str | None:
    """None if the policy admits the request (or does not apply), else the denial reason."""
    if not rule_matches(policy, request):
        return None
    spec = policy["spec"]
    activation: dict[str, Any] = {
        "object": celpy.json_to_cel(obj),
        "oldObject": celpy.json_to_cel(old),
        "request": celpy.json_to_cel(request.as_cel()),
        "namespaceObject": celpy.json_to_cel(dict(namespace)),
        "params": celpy.json_to_cel(None),
    }
    name = policy["metadata"]["name"]
    for condition in spec.get("matchConditions") or []:
        try:
            matched = _eval(condition["expression"], activation)
        except Exception as exc:  # noqa: BLE001 - any CEL error is a denial under failurePolicy Fail
            return f"{name}: match condition {condition['name']} errored ({exc})"
        if not bool(matched):
            return None
    variables: dict[str, Any] = {}
    for variable in spec.get("variables") or []:
        try:
            variables[variable["name"]] = _eval(
                variable["expression"],
                {
                    **activation,
                    "variables": celtypes.MapType({celtypes.StringType(k): v for k, v in variables.items()}),
                },
            )
        except Exception:  # noqa: BLE001, S112 - an errored variable errors whatever uses it
            continue
    activation["variables"] = celtypes.MapType({celtypes.StringType(k): v for k, v in variables.items()})
    for validation in spec["validations"]:
        try:
            passed = bool(_eval(validation["expression"], activation))
        except Exception:  # noqa: BLE001 - failurePolicy Fail
            passed = False
        if not passed:
            return f"{name}: {validation['message']}"
    return None


@dataclass(frozen=True)
class AdmissionChain:
    """The admission policies and bindings of one cluster, as rendered."""

    policies: Mapping[str, Mapping[str, Any]]
    bindings: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_manifests(cls, objects: Iterable[Mapping[str, Any]]) -> AdmissionChain:
        """Collect the policies and bindings among a cluster's rendered objects."""
        objects = list(objects)
        return cls(
            {o["metadata"]["name"]: o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"},
            tuple(o for o in objects if o["kind"] == "ValidatingAdmissionPolicyBinding"),
        )

    def admit(self, request: Request, *, obj: Any, namespace: Mapping[str, Any], old: Any = None) -> Decision:
        """Run every bound policy on a request, as the API server's admission chain does."""
        decision = Decision()
        labels = (namespace.get("metadata") or {}).get("labels") or {}
        for bound in self.bindings:
            spec = bound["spec"]
            selector = (spec.get("matchResources") or {}).get("namespaceSelector") or {}
            if not _selector_matches(selector, labels):
                continue
            assert "Deny" in spec["validationActions"], spec  # noqa: S101 - only Deny bindings judge here
            policy = self.policies[spec["policyName"]]
            reason = evaluate_policy(policy, request, obj=obj, old=old, namespace=namespace)
            if reason is not None:
                decision.denials.append(reason)
        return decision

"""The servicer's ``Analyze`` and ``AnalyzeStack`` on plan resources, each converted once, without protobuf.

The Pulumi engine sends a policy pack each resource as a protobuf request; the pack's
servicer (``_PolicyAnalyzerServicer``, pinned pulumi-policy 1.21.0) turns it back into a
``PolicyResource`` (properties from the Struct to a dict, deserialized, wrapped in an
unknown-checking proxy; options; provider) for every policy, and ``AnalyzeStack`` does so
for every resource again for each stack policy. In process, the plan's dicts were
serialized into those requests only to be converted back: in a 10,000-resource cell that
was most of the policy pack's time, far more than the rules' own logic.

:class:`PlanResources` converts each resource once per evaluation: the properties straight
from the plan's dict to what the Struct round trip gives (:func:`policy_value`: every
number a float, unknowns as the engine's sentinel; anything unusual through the Struct
itself), the options and provider with the servicer's helpers. :func:`analyze` and
:func:`analyze_stack` then run the servicer's own loops: enforcement levels, config,
reported violations, the preview diagnostic on an unknown value; for a stack policy a
fresh ``PolicyResource`` per resource, linked only to the parents and dependencies inside
the subset the rule reads, exactly as a request holding only that subset is linked. What
is shared between policies (the props proxy, the options, the provider) is only read by
them. ``policy.engine.DIRECT = False`` goes back to the requests; tests compare both ways.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import policy as policy_module
from pulumi_policy.deserialize import SPECIAL_SIG_KEY
from pulumi_policy.policy import (
    PolicyProviderResource,
    PolicyResource,
    _NotApplicableError,
    _PolicyAnalyzerServicer,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

#: The servicer's private attributes (name-mangled).
_STACK_TAGS = "_PolicyAnalyzerServicer__stack_tags"
_PACK_NAME = "_PolicyAnalyzerServicer__policy_pack_name"
_PACK_VERSION = "_PolicyAnalyzerServicer__policy_pack_version"
_POLICIES = "_PolicyAnalyzerServicer__policies"
UNKNOWN = "[unknown]"


class UnknownInUpdate(ValueError):
    """An ``[unknown]`` value reached an evaluation that is not a preview."""


def unknown_in_update(where: str) -> UnknownInUpdate:
    """The error for an unknown value at ``where`` in an update."""
    return UnknownInUpdate(f"{where} is unknown, but an update never carries unknown values; "
                           "evaluate with preview=True")


class NeedsStruct(ValueError):
    """A value :func:`policy_value` does not convert itself; the Struct round trip is the reference."""


def policy_value(value: Any, preview: bool, where: str) -> Any:
    """What the servicer makes of a plan value sent as a protobuf Struct (``MessageToDict``, deserialized).

    A Struct carries every number as a double, so every int comes back a float (a bool
    stays a bool); tuples come back lists, ``None`` stays. ``[unknown]`` is the engine's
    unknown sentinel in a preview and an error otherwise. Keys keep the plan's order (the
    Struct's map order is the protobuf runtime's own, and the real engine's differs again:
    no rule may depend on it). Anything else (another type, a non-finite float, the SDK's
    special signature key, which the servicer would turn into an asset or a secret) raises
    :class:`NeedsStruct`, and the caller converts that resource through the Struct.
    """
    kind = type(value)
    if kind is str:
        if value == UNKNOWN:
            if not preview:
                raise unknown_in_update(where)
            return UNKNOWN_STRING_VALUE
        return value
    if kind is bool or value is None:
        return value
    if kind is int:
        return float(value)
    if kind is float:
        if not math.isfinite(value):
            raise NeedsStruct(where)
        return value
    if kind is dict:
        if SPECIAL_SIG_KEY in value:
            raise NeedsStruct(where)
        return {str(k): policy_value(v, preview, f"{where}.{k}") for k, v in value.items()}
    if kind is list or kind is tuple:
        return [policy_value(v, preview, f"{where}[{i}]") for i, v in enumerate(value)]
    raise NeedsStruct(where)


@dataclass(frozen=True)
class Prepared:
    """One resource as the servicer's loops build it (for ``AnalyzeStack``, before linking)."""

    type: str
    urn: str
    name: str
    props: Any
    opts: Any
    provider: Any
    parent: str
    dependencies: tuple[str, ...]
    property_dependencies: tuple[tuple[str, tuple[str, ...]], ...]


class PlanResources:
    """Each plan resource of a stack prepared once, for all the policies that read it.

    ``servicer`` lends its (stateless) conversion of resource options.

    ``struct_props(resource)`` is the reference conversion (the plan dict through a
    protobuf Struct), used for what :func:`policy_value` leaves to it.
    """

    def __init__(self, servicer: _PolicyAnalyzerServicer, by_urn: Mapping[str, Mapping[str, Any]],
                 preview: bool, options: Callable[[Mapping[str, Any]], Any],
                 struct_props: Callable[[Mapping[str, Any]], Any]) -> None:
        self.servicer = servicer
        self.by_urn = by_urn
        self.preview = preview
        self.options = options
        self.struct_props = struct_props
        self._prepared: dict[str, Prepared] = {}
        self._props: dict[str, Any] = {}
        self._providers: dict[str, PolicyProviderResource] = {}

    def props(self, resource: Mapping[str, Any]) -> Any:
        """The unknown-checking proxy of a resource's inputs, as a policy reads them."""
        urn = resource["urn"]
        if urn not in self._props:
            try:
                value = policy_value(resource.get("inputs") or {}, self.preview, urn)
            except NeedsStruct:
                value = policy_module.deserialize_properties(
                    json_format.MessageToDict(self.struct_props(resource)))
            self._props[urn] = policy_module.unknown_checking_proxy(value)
        return self._props[urn]

    def provider(self, resource: Mapping[str, Any]) -> PolicyProviderResource | None:
        """The resource's provider as the servicer gives it (None if not among the stack's resources)."""
        urn = (resource.get("options") or {}).get("provider")
        found = self.by_urn.get(urn) if urn else None
        if found is None:
            return None
        key = found["urn"]
        if key not in self._providers:
            self._providers[key] = PolicyProviderResource(found["type"], self.props(found), key,
                                                          found["name"])
        return self._providers[key]

    def prepared(self, r: Mapping[str, Any]) -> Prepared:
        """``r`` as the servicer's loop turns it into a resource (remembered by URN)."""
        found = self._prepared.get(r["urn"])
        if found is None:
            options = r.get("options") or {}
            message = analyzer_pb2.AnalyzerResource(options=self.options(r))
            found = self._prepared[r["urn"]] = Prepared(
                type=r["type"], urn=r["urn"], name=r["name"], props=self.props(r),
                opts=self.servicer._get_resource_options(message),  # noqa: SLF001 - pinned private API
                provider=self.provider(r), parent=r.get("parent") or "",
                dependencies=tuple(options.get("dependsOn") or ()),
                property_dependencies=tuple((k, tuple(v)) for k, v in
                                            (options.get("propertyDependencies") or {}).items() if v))
        return found


def _linked(resources: Sequence[Prepared]) -> list[PolicyResource]:
    """Fresh ``PolicyResource`` objects, parents and dependencies linked within ``resources``."""
    made = [PolicyResource(r.type, r.props, r.urn, r.name, r.opts, r.provider, None, [], {})
            for r in resources]
    by_urn = {m.urn: m for m in made}
    for prepared, resource in zip(resources, made, strict=True):
        if prepared.parent in by_urn:
            resource.parent = by_urn[prepared.parent]
        resource.dependencies.extend(by_urn[d] for d in prepared.dependencies if d in by_urn)
        for key, urns in prepared.property_dependencies:
            resource.property_dependencies[key] = [by_urn[d] for d in urns if d in by_urn]
    return made


def analyze(servicer: _PolicyAnalyzerServicer, resource: Prepared) -> analyzer_pb2.AnalyzeResponse:
    """``servicer.Analyze`` of one resource: each of its resource policies, as the pinned servicer runs them.

    Its enforcement level (disabled: skipped; remediate: mandatory), "not applicable" for a
    policy with no validation, its config, and the advisory preview diagnostic on an
    unknown value, with the resource converted once (:meth:`PlanResources.prepared`).
    """
    servicer._configure_runtime_settings()  # noqa: SLF001
    response = analyzer_pb2.AnalyzeResponse()
    for policy in getattr(servicer, _POLICIES):
        level = servicer._get_enforcement_level(policy)  # noqa: SLF001
        if level == EnforcementLevel.DISABLED or not isinstance(policy, ResourceValidationPolicy):
            continue
        if not policy.has_validation():
            response.not_applicable.append(analyzer_pb2.PolicyNotApplicable(
                policy_name=policy.name, reason="Policy does not implement validate"))
            continue
        if level == EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY
        report = servicer._create_report_violation(response, policy.name, policy.description,  # noqa: SLF001
                                                   level, policy.severity)
        config = servicer._get_policy_config(policy.name)  # noqa: SLF001
        args = ResourceValidationArgs(resource.type, resource.props, resource.urn, resource.name,
                                      resource.opts, resource.provider, config,
                                      getattr(servicer, _STACK_TAGS))
        _validate(servicer, policy, args, report, response)
    return response


def _validate(servicer: _PolicyAnalyzerServicer, policy: Any, args: Any, report: Any,
              response: analyzer_pb2.AnalyzeResponse) -> None:
    """Run one policy's validation as the servicer does: awaited if async, unknowns and N/A reported."""
    name, version = getattr(servicer, _PACK_NAME), getattr(servicer, _PACK_VERSION)
    try:
        result = policy.validate(args, report)
        if isawaitable(result):
            loop = asyncio.new_event_loop()
            loop.run_until_complete(asyncio.ensure_future(result, loop=loop))
            loop.close()
    except UnknownValueError as e:
        response.diagnostics.append(analyzer_pb2.AnalyzeDiagnostic(
            policyName=policy.name, policyPackName=name, policyPackVersion=version,
            message=(f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' "
                     f"during preview: {e.message}"),
            urn="", description=policy.description,
            enforcementLevel=servicer._map_enforcement_level(EnforcementLevel.ADVISORY)))  # noqa: SLF001
    except _NotApplicableError as e:
        response.not_applicable.append(analyzer_pb2.PolicyNotApplicable(policy_name=policy.name,
                                                                        reason=e.reason or ""))


def analyze_stack(servicer: _PolicyAnalyzerServicer, policy: Policy,
                  resources: Sequence[Prepared]) -> analyzer_pb2.AnalyzeResponse:
    """``servicer.AnalyzeStack`` of a request holding ``resources``, for the one stack policy ``policy``.

    The body of the pinned servicer's loop for one policy: its enforcement level (disabled:
    nothing; remediate: mandatory), its config, the violations it reports, and the advisory
    "can't run policy ... during preview" diagnostic when it reads an unknown value.
    """
    servicer._configure_runtime_settings()  # noqa: SLF001
    response = analyzer_pb2.AnalyzeResponse()
    level = servicer._get_enforcement_level(policy)  # noqa: SLF001
    if level == EnforcementLevel.DISABLED or not isinstance(policy, StackValidationPolicy):
        return response
    if level == EnforcementLevel.REMEDIATE:
        level = EnforcementLevel.MANDATORY
    report = servicer._create_report_violation(response, policy.name, policy.description,  # noqa: SLF001
                                               level, policy.severity)
    args = StackValidationArgs(_linked(resources), servicer._get_policy_config(policy.name),  # noqa: SLF001
                               getattr(servicer, _STACK_TAGS))
    _validate(servicer, policy, args, report, response)
    return response

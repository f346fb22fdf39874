"""Evaluate the policy pack in-process, exactly as the Pulumi engine would.

The engine talks to a policy pack over gRPC: it reconciles the pack's config (schema
defaults, then ``--policy-pack-config``), calls ``Configure`` and ``ConfigureStack``, then
``Analyze`` once per resource and ``AnalyzeStack`` once with every resource, each with
the analyzer protobuf requests. Here the pack's own servicer
(``pulumi_policy.policy._PolicyAnalyzerServicer``, private API: pulumi-policy is pinned)
receives the same requests without a socket. That gives the real enforcement-level
resolution, disabled policies, config, parent and dependency linking for stack rules, and
the advisory "can't run policy ... during preview" diagnostic when a rule touches an
unknown value.

Resources are plan.json dicts (``urn``, ``type``, ``name``, ``parent``, ``inputs`` with
camelCase engine names, secrets as ``"[secret]"`` and unknowns as ``"[unknown]"``,
``options``). Unknowns become the engine's unknown sentinel; an update (``preview=False``)
never carries unknowns, so finding one there is an error in the caller.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, Policy
from pulumi_policy import policy as policy_module
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.config import effective_severity, reconcile
from policy.direct import UNKNOWN, PlanResources, analyze, analyze_stack, unknown_in_update
from policy.direct import UnknownInUpdate as UnknownInUpdate  # re-exported: callers catch it here
from policy.pack import PACK_NAME, PACK_VERSION, build_policies
from policy.rule import AnyRule, ResourceRule, StackRule
from policy.rules import ALL

PROJECT = "tenant-platform"
#: Set by the Pulumi CLI for a policy pack process; they would make the servicer
#: reconfigure the Pulumi runtime of this process.
_ENGINE_ENV = ("PULUMI_PROJECT", "PULUMI_STACK", "PULUMI_DRY_RUN")
_LEVELS = {
    "advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY,
    "disabled": analyzer_pb2.DISABLED, "remediate": analyzer_pb2.REMEDIATE,
}
_LEVEL_NAMES = {v: k for k, v in _LEVELS.items()}
#: Give each policy only the resources of the types its rule reads. Policies ignore other
#: types, so results are identical (tests compare both ways); the engine's per-policy
#: deserialisation of every resource is what dominates the run time otherwise.
SUBSET_BY_TYPE = True
#: Convert each resource once for all the policies (``policy.direct``) instead of sending
#: the servicer a protobuf request per resource and per stack rule; results are identical
#: (tests compare both ways). Stack rules go direct only with SUBSET_BY_TYPE.
DIRECT = True


@cache
def _pack() -> tuple[tuple[AnyRule, Policy], ...]:
    """Rules paired with their policies (built once: they are stateless)."""
    return tuple(zip(ALL, build_policies(ALL), strict=True))


def load_pack() -> None:
    """Build the pack now: the offline planner does before forking workers, which inherit it."""
    _pack()


def _engine_value(value: Any, preview: bool, where: str) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _engine_value(v, preview, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_engine_value(v, preview, f"{where}[{i}]") for i, v in enumerate(value)]
    if value == UNKNOWN:
        if not preview:
            raise unknown_in_update(where)
        return UNKNOWN_STRING_VALUE
    return value


def _struct(value: Mapping[str, Any], preview: bool, where: str) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(_engine_value(value, preview, where))
    return struct


def _options(resource: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    options = resource.get("options") or {}
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(options.get("protect")),
        ignoreChanges=[str(x) for x in options.get("ignoreChanges") or []],
        deleteBeforeReplace=bool(options.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined="deleteBeforeReplace" in options,
        additionalSecretOutputs=[str(x) for x in options.get("additionalSecretOutputs") or []],
        aliases=[a for a in options.get("aliases") or [] if isinstance(a, str)],
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
        parent=resource.get("parent") or "",
    )


class _Requests:
    """Builds the analyzer requests of one stack's resources."""

    def __init__(self, resources: Sequence[Mapping[str, Any]], preview: bool) -> None:
        self.resources = resources
        self.preview = preview
        self.by_urn = {r["urn"]: r for r in resources}
        self._props: dict[str, struct_pb2.Struct] = {}
        self._stack: dict[str, analyzer_pb2.AnalyzerResource] = {}

    def properties(self, resource: Mapping[str, Any]) -> struct_pb2.Struct:
        urn = resource["urn"]
        if urn not in self._props:
            self._props[urn] = _struct(resource.get("inputs") or {}, self.preview, urn)
        return self._props[urn]

    def provider(self, resource: Mapping[str, Any]) -> analyzer_pb2.AnalyzerProviderResource | None:
        urn = (resource.get("options") or {}).get("provider")
        found = self.by_urn.get(urn) if urn else None
        if found is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=found["type"], urn=found["urn"], name=found["name"],
            properties=self.properties(found))

    def analyze(self, resource: Mapping[str, Any]) -> analyzer_pb2.AnalyzeRequest:
        return analyzer_pb2.AnalyzeRequest(
            type=resource["type"], urn=resource["urn"], name=resource["name"],
            properties=self.properties(resource), options=_options(resource),
            provider=self.provider(resource))

    def stack_resource(self, r: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResource:
        if r["urn"] not in self._stack:
            options = r.get("options") or {}
            self._stack[r["urn"]] = analyzer_pb2.AnalyzerResource(
                type=r["type"], urn=r["urn"], name=r["name"], properties=self.properties(r),
                options=_options(r), provider=self.provider(r), parent=r.get("parent") or "",
                dependencies=list(options.get("dependsOn") or []),
                propertyDependencies={
                    k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
                    for k, v in (options.get("propertyDependencies") or {}).items() if v})
        return self._stack[r["urn"]]

    def analyze_stack(self, subset: Sequence[Mapping[str, Any]] | None = None
                      ) -> analyzer_pb2.AnalyzeStackRequest:
        chosen = self.resources if subset is None else subset
        return analyzer_pb2.AnalyzeStackRequest(resources=[self.stack_resource(r) for r in chosen])


class _ConvertOnce:
    """The servicer's conversions of a resource's properties, each done once per stack.

    The servicer turns a resource's property Struct back into a dict, deserializes it and
    wraps it in an unknown-checking proxy once per policy (``Analyze``) and once per stack
    policy (``AnalyzeStack``): a resource read by twenty policies was converted twenty
    times, a third of the pack's time. Each step is a pure function of its input, so
    equal messages (by their deterministic encoding) share one dict, and one dict shares
    one deserialized value and one proxy. Policies only read them (the rules never assign
    to ``props``), and a proxy raises on an unknown value whichever policy reads it.
    Results are held (with their inputs, so ids stay unique) for one stack's evaluation.
    """

    def __init__(self) -> None:
        self._dicts: dict[bytes, Any] = {}
        self._deserialized: dict[tuple[int, bool], tuple[Any, Any]] = {}
        self._proxies: dict[int, tuple[Any, Any]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(json_format, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - its API
        if args or kwargs:
            return json_format.MessageToDict(message, *args, **kwargs)
        key = message.SerializeToString(deterministic=True)
        found = self._dicts.get(key)
        if found is None:
            found = self._dicts[key] = json_format.MessageToDict(message)
        return found

    def deserialize_properties(self, props: Any, proxy_secrets: bool = False) -> Any:
        key = (id(props), proxy_secrets)
        found = self._deserialized.get(key)
        if found is None:
            found = self._deserialized[key] = (props, _DESERIALIZE(props, proxy_secrets))
        return found[1]

    def unknown_checking_proxy(self, props: Any) -> Any:
        found = self._proxies.get(id(props))
        if found is None:
            found = self._proxies[id(props)] = (props, _PROXY(props))
        return found[1]


_DESERIALIZE = policy_module.deserialize_properties
_PROXY = policy_module.unknown_checking_proxy


@contextmanager
def _converting_once() -> Iterator[None]:
    """Install :class:`_ConvertOnce` in the servicer's module for one stack's evaluation."""
    once = _ConvertOnce()
    policy_module.json_format = once
    policy_module.deserialize_properties = once.deserialize_properties
    policy_module.unknown_checking_proxy = once.unknown_checking_proxy
    try:
        yield
    finally:
        policy_module.json_format = json_format
        policy_module.deserialize_properties = _DESERIALIZE
        policy_module.unknown_checking_proxy = _PROXY


@contextmanager
def _without_engine_env() -> Iterator[None]:
    saved = {k: os.environ.pop(k) for k in _ENGINE_ENV if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


class _Evaluation:
    """One stack's evaluation: the pack configured as the engine would, and what it found."""

    def __init__(self, resources: Sequence[Mapping[str, Any]], *, stack_name: str, stack_kind: str,
                 config: Mapping[str, Any] | None, preview: bool) -> None:
        configs = reconcile(stack_kind, config)
        self.pack = _pack()
        self.requests = _Requests(resources, preview)
        self.configure = analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
            rule_id: analyzer_pb2.PolicyConfig(enforcementLevel=_LEVELS[c.enforcement],
                                               properties=_struct(c.properties, True, rule_id))
            for rule_id, c in configs.items()})
        self.stack_configure = analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack_name, project=PROJECT)
        self.severities = {rule.id: effective_severity(rule, stack_kind) for rule, _ in self.pack}
        self.violations: list[dict] = []
        self._plan_resources: PlanResources | None = None

    def servicer(self, policies: list[Policy]) -> _PolicyAnalyzerServicer:
        s = _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, policies, EnforcementLevel.ADVISORY)
        s.ConfigureStack(self.stack_configure, None)
        s.Configure(self.configure, None)
        return s

    def plan_resources(self, servicer: _PolicyAnalyzerServicer) -> PlanResources:
        """The stack's resources converted for the policies (once per evaluation, by the first servicer)."""
        if self._plan_resources is None:
            self._plan_resources = PlanResources(servicer, self.requests.by_urn, self.requests.preview,
                                                 _options, self.requests.properties)
        return self._plan_resources

    def collect(self, response: Any, default_urn: str | None) -> None:
        for d in response.diagnostics:
            prefix = d.description + "\n"
            message = d.message[len(prefix):] if d.message.startswith(prefix) else d.message
            self.violations.append({
                "policy": d.policyName, "severity": self.severities[d.policyName],
                "enforcement": _LEVEL_NAMES[d.enforcementLevel],
                "urn": d.urn or default_urn, "message": message})

    def resource_rules(self, judged: Collection[str] | None) -> None:
        """``Analyze`` each resource (of the URNs ``judged``; every one when None)."""
        # One servicer per resource type, holding the policies of that type (SUBSET_BY_TYPE).
        by_type: dict[str, _PolicyAnalyzerServicer | None] = {}
        for resource in self.requests.resources:
            if judged is not None and resource["urn"] not in judged:
                continue
            type_ = resource["type"]
            if type_ not in by_type:
                relevant = [p for rule, p in self.pack if isinstance(rule, ResourceRule)
                            and (rule.applies_to(type_) or not SUBSET_BY_TYPE)]
                by_type[type_] = self.servicer(relevant) if relevant else None
            analyzer = by_type[type_]
            if analyzer is None:
                continue
            if DIRECT:
                response = analyze(analyzer, self.plan_resources(analyzer).prepared(resource))
            else:
                response = analyzer.Analyze(self.requests.analyze(resource), None)
            self.collect(response, resource["urn"])

    def stack_rules(self, chosen: Collection[str] | None = None) -> None:
        """``AnalyzeStack`` over every resource (by the stack rules of the ids ``chosen``; all when None)."""
        resources = self.requests.resources
        stack_rules = [(rule, p) for rule, p in self.pack if isinstance(rule, StackRule)
                       and (chosen is None or rule.id in chosen)]
        if SUBSET_BY_TYPE and DIRECT:
            servicer = self.servicer([p for _, p in stack_rules])
            stack = self.plan_resources(servicer)
            for rule, policy in stack_rules:
                reads = rule.reads
                subset = resources if reads is None else [r for r in resources if reads(r["type"])]
                prepared = [stack.prepared(r) for r in subset]
                self.collect(analyze_stack(servicer, policy, prepared), None)
        elif SUBSET_BY_TYPE:
            for rule, policy in stack_rules:
                reads = rule.reads
                subset = resources if reads is None else [r for r in resources if reads(r["type"])]
                self.collect(self.servicer([policy]).AnalyzeStack(self.requests.analyze_stack(subset), None),
                             None)
        else:
            policies = [p for _, p in stack_rules]
            self.collect(self.servicer(policies).AnalyzeStack(self.requests.analyze_stack(), None), None)


def evaluate_stack(resources: list[dict], *, stack_name: str, stack_kind: str,
                   config: Mapping[str, Any] | None = None, preview: bool = False) -> list[dict]:
    """Every policy violation in one stack's resources, sorted deterministically.

    ``config`` overrides the stack kind's default configuration (``policy.config``) in the
    ``--policy-pack-config`` format. Each violation is ``{"policy", "severity",
    "enforcement", "urn", "message"}``; ``severity`` is the rule's severity in this kind of
    stack, ``urn`` is ``None`` for findings about the stack as a whole.
    """
    evaluation = _Evaluation(resources, stack_name=stack_name, stack_kind=stack_kind, config=config,
                             preview=preview)
    with _without_engine_env(), _converting_once():
        evaluation.resource_rules(None)
        evaluation.stack_rules()
    return sort_violations(evaluation.violations)


def evaluate_resources(resources: list[dict], judged: Collection[str], *, stack_name: str,
                       stack_kind: str, config: Mapping[str, Any] | None = None,
                       preview: bool = False) -> list[dict]:
    """The resource rules' violations of the resources ``judged`` (URNs) among ``resources``.

    The first half of :func:`evaluate_stack`, for a part of a stack planned on its own (a
    slice of a cell): ``resources`` is what that part declared, so that each judged
    resource's provider is found as in the whole stack. Resource rules read one resource
    (and its provider) only, so a resource's violations are the same in its slice as in
    the whole stack; :func:`evaluate_stack_rules` over the merged stack gives the rest.
    """
    evaluation = _Evaluation(resources, stack_name=stack_name, stack_kind=stack_kind, config=config,
                             preview=preview)
    with _without_engine_env(), _converting_once():
        evaluation.resource_rules(judged)
    return evaluation.violations


def evaluate_stack_rules(resources: list[dict], *, stack_name: str, stack_kind: str,
                         config: Mapping[str, Any] | None = None, preview: bool = False,
                         rules: Collection[str] | None = None) -> list[dict]:
    """The stack rules' violations of a whole stack: the second half of :func:`evaluate_stack`.

    ``rules``: only the stack rules of these ids (every one when None), so that a caller
    can share the rules out between processes; each rule judges the stack on its own.
    """
    evaluation = _Evaluation(resources, stack_name=stack_name, stack_kind=stack_kind, config=config,
                             preview=preview)
    with _without_engine_env(), _converting_once():
        evaluation.stack_rules(rules)
    return evaluation.violations


def stack_rule_ids() -> list[str]:
    """The ids of the pack's stack rules, in catalogue order."""
    return [rule.id for rule, _ in _pack() if isinstance(rule, StackRule)]


def sort_violations(violations: Iterable[dict]) -> list[dict]:
    """Violations in plan order: by URN (stack findings first), policy and message."""
    return sorted(violations, key=lambda v: (v["urn"] or "", v["policy"], v["message"]))


def mandatory(violations: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The violations that block a deployment."""
    return [dict(v) for v in violations if v["enforcement"] == "mandatory"]

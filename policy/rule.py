"""What a rule is: metadata, the resources it looks at, and a pure check function.

A rule never sees CrossGuard types. It receives :class:`Resource` views (type, props,
urn, and for stack rules the parent and dependency URNs) and a :class:`RuleConfig`, and
yields fixed violation messages. ``policy.pack`` turns rules into CrossGuard policies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from policy import tenancy

Severity = Literal["critical", "high", "medium", "low"]
Enforcement = Literal["mandatory", "advisory", "disabled"]
#: ``tenant``: only resources attributed to a tenant; ``all``: platform resources too;
#: ``k8s-tenant``: Kubernetes objects and charts only if a tenant owns them, AWS resources always.
Scope = Literal["tenant", "all", "k8s-tenant"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
TIER_LETTERS = "NPVD"


@dataclass(frozen=True)
class Resource:
    """The view of one resource a rule judges."""

    type: str
    props: Mapping[str, Any]
    urn: str = ""
    name: str = ""
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    #: Property name -> URNs its value was computed from (when the engine provides them).
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """A stack rule's violation: the message and the resource it is about (if any)."""

    message: str
    urn: str | None = None


@dataclass(frozen=True)
class RuleConfig:
    """A rule's effective configuration for one stack: tiers it applies to, options."""

    scope: Scope
    tiers: frozenset[str]
    options: Mapping[str, Any] = field(default_factory=dict)

    def applies(self, res: Resource) -> bool:
        """Whether the rule judges this resource in this stack.

        Tenant-scoped rules skip platform resources (no tenant label, tag or namespace).
        A resource whose tier is known is judged only if that tier is configured; one whose
        tier is unknown (platform resources, Helm charts) is judged whenever the rule is on.
        """
        if not self.tiers:
            return False
        if self.scope != "all" and tenancy.tenant_of(res.type, res.props) is None:
            if self.scope == "tenant" or res.type.startswith("kubernetes:"):
                return False
        tier = tenancy.tier_of(res.type, res.props)
        return tier is None or tier in self.tiers

    def option(self, name: str) -> Any:
        """A rule-specific option (its schema default unless the stack's config sets it)."""
        return self.options[name]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Metadata shared by resource and stack rules."""

    id: str
    description: str
    severity: Severity
    tiers: str
    scope: Scope
    #: Rule-specific options: name -> JSON schema (with a ``default``).
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.id}: unknown severity {self.severity!r}")
        if not self.tiers or any(t not in TIER_LETTERS for t in self.tiers):
            raise ValueError(f"{self.id}: tiers {self.tiers!r} must be letters of {TIER_LETTERS}")

    @property
    def family(self) -> str:
        """NS, RBAC, POD, NODE, NET, MESH, VC, EKS, IAM, DATA or META."""
        return self.id.split("-")[1]

    @property
    def default_enforcement(self) -> Enforcement:
        """Critical and high rules block; medium and low advise."""
        return "mandatory" if self.severity in ("critical", "high") else "advisory"

    def config_schema(self) -> dict[str, dict[str, Any]]:
        """JSON schema of the rule's config properties, with defaults (tiers included)."""
        schema: dict[str, dict[str, Any]] = {
            "tiers": {"type": "array", "items": {"type": "string", "enum": list(TIER_LETTERS)},
                      "uniqueItems": True, "default": list(self.tiers),
                      "description": "Isolation tiers (N, P, V, D) the rule applies to."},
        }
        schema.update({k: dict(v) for k, v in self.options.items()})
        return schema

    def config(self, given: Mapping[str, Any] | None = None) -> RuleConfig:
        """The effective config: schema defaults overlaid with what the stack sets."""
        values = {k: v.get("default") for k, v in self.config_schema().items()}
        for key, value in (given or {}).items():
            if key in values:
                values[key] = value
        tiers = frozenset(str(t) for t in values.pop("tiers") or ())
        return RuleConfig(scope=self.scope, tiers=tiers, options=values)


ResourceCheck = Callable[[Resource, RuleConfig], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], RuleConfig], Iterable[Finding]]


@dataclass(frozen=True, kw_only=True)
class ResourceRule(Rule):
    """A rule judging one resource at a time (a CrossGuard ResourceValidationPolicy)."""

    applies_to: Callable[[str], bool]
    check: ResourceCheck

    def evaluate(self, res: Resource, config: RuleConfig | None = None) -> list[str]:
        """The distinct violation messages for one resource, in order (pure; no engine)."""
        cfg = config or self.config()
        if not self.applies_to(res.type) or not cfg.applies(res):
            return []
        return list(dict.fromkeys(self.check(res, cfg)))


@dataclass(frozen=True, kw_only=True)
class StackRule(Rule):
    """A rule judging the stack's resources together (a StackValidationPolicy)."""

    check: StackCheck
    #: The resource types the check reads (``None``: all). The in-process engine shows the
    #: rule only those, which changes nothing but the run time (a test proves it).
    reads: Callable[[str], bool] | None = None

    def evaluate(self, resources: Sequence[Resource],
                 config: RuleConfig | None = None) -> list[Finding]:
        """The distinct findings for the stack, in order (pure; no engine)."""
        return list(dict.fromkeys(self.check(resources, config or self.config())))


AnyRule = ResourceRule | StackRule

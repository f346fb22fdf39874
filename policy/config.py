"""Per-stack policy configuration: which tiers each rule applies to, and how hard it bites.

A shared stack (``shared-<cell>``) holds namespace, node and vcluster tenants (tiers N, P,
V); a dedicated stack (``tenant-<id>``) holds one cluster-tier tenant (tier D). A rule
whose catalogue tiers miss every tier of the stack is disabled there. In dedicated stacks
the NS, NET and MESH families drop one severity level (the catalogue's legend: the tenant
owns the whole cluster, so in-cluster fences matter less); identity and data rules keep
theirs. Enforcement follows severity: critical and high are mandatory, medium and low
advisory.

The configuration uses the format of ``pulumi preview --policy-pack-config``: keys are
rule ids (or ``all``), values an enforcement level or an object with
``enforcementLevel`` and rule properties. ``python -m policy.config --stack NAME`` writes
the file CI passes to the real engine; :func:`reconcile` merges it exactly as the engine
does (schema defaults, then the file, then overrides; ``all`` first within each layer).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy.rule import SEVERITIES, AnyRule, Severity
from policy.rules import ALL

STACK_KINDS = ("shared", "dedicated")
STACK_TIERS: Mapping[str, str] = {"shared": "NPV", "dedicated": "D"}
#: Families one severity level lower in dedicated stacks.
LOWERED_IN_DEDICATED = frozenset({"NS", "NET", "MESH"})
ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")


class PolicyConfigError(ValueError):
    """The policy configuration names an unknown rule or breaks a rule's schema."""


@dataclass(frozen=True)
class PolicyConfig:
    """One rule's reconciled configuration."""

    enforcement: str
    properties: Mapping[str, Any]


def stack_kind_of(stack_name: str) -> str:
    """``dedicated`` for ``tenant-<id>`` stacks, ``shared`` for every other stack."""
    return "dedicated" if stack_name.startswith("tenant-") else "shared"


def _check_kind(kind: str) -> None:
    if kind not in STACK_KINDS:
        raise PolicyConfigError(f"stack kind {kind!r} is not one of {', '.join(STACK_KINDS)}")


def effective_severity(rule: AnyRule, kind: str) -> Severity:
    """The rule's severity in a stack of this kind."""
    _check_kind(kind)
    if kind == "dedicated" and rule.family in LOWERED_IN_DEDICATED:
        return SEVERITIES[min(SEVERITIES.index(rule.severity) + 1, len(SEVERITIES) - 1)]
    return rule.severity


def enforcement_for(severity: str) -> str:
    """Critical and high block; medium and low advise."""
    return "mandatory" if severity in ("critical", "high") else "advisory"


#: Rules that judge host names and the option they read the registry's host ownership from.
HOST_RULES: Mapping[str, str] = {"ISO-NET-09": "tenantHosts", "ISO-MESH-07": "tenantHosts"}


def host_ownership(tenants: Iterable[Any]) -> dict[str, list[str]]:
    """Tenant id -> the host names the registry gives it (``ResolvedTenant.hostname``).

    The one translation of the registry's host ownership into policy config: ``tenantctl
    plan`` and ``check`` (through plan.json) and the real engine's ``--policy-pack-config``
    all call it with the stack's tenants.
    """
    return {t.id: [t.hostname.lower().rstrip(".")] for t in sorted(tenants, key=lambda t: t.id)}


def host_config(hosts: Mapping[str, Sequence[str]] | None,
                rules: Sequence[AnyRule] = ALL) -> dict[str, dict[str, Any]]:
    """Config entries that give every host-judging rule of ``rules`` the tenants' hosts."""
    ids = {rule.id for rule in rules}
    return {rule_id: {option: {t: list(h) for t, h in (hosts or {}).items()}}
            for rule_id, option in HOST_RULES.items() if rule_id in ids}


def stack_config(kind: str, rules: Sequence[AnyRule] = ALL,
                 hosts: Mapping[str, Sequence[str]] | None = None) -> dict[str, dict[str, Any]]:
    """The default ``--policy-pack-config`` document for a stack of this kind.

    ``hosts``: the stack's tenants' host names (:func:`host_ownership`) for the rules
    that judge which tenant may claim which host.
    """
    _check_kind(kind)
    document: dict[str, dict[str, Any]] = {}
    for rule in rules:
        tiers = [t for t in rule.tiers if t in STACK_TIERS[kind]]
        level = enforcement_for(effective_severity(rule, kind)) if tiers else "disabled"
        document[rule.id] = {"enforcementLevel": level, "tiers": tiers}
    if hosts is not None:
        for rule_id, entry in host_config(hosts, rules).items():
            document[rule_id].update(entry)
    return document


def _layer(document: Mapping[str, Any]) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Parse one config document into rule -> (enforcement level or None, properties)."""
    parsed: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for key, value in document.items():
        if isinstance(value, str):
            level, props = value, {}
        elif isinstance(value, Mapping):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
        else:
            raise PolicyConfigError(f"{key}: {value!r} must be an enforcement level or an object")
        if level is not None and level not in ENFORCEMENT_LEVELS:
            raise PolicyConfigError(f"{key}: enforcement level {level!r} is not one of "
                                    f"{', '.join(ENFORCEMENT_LEVELS)}")
        parsed[key] = (level, props)
    return parsed


def _apply(result: dict[str, PolicyConfig], document: Mapping[str, Any]) -> None:
    """The engine's ``applyConfig``: ``all`` sets every level, then per-rule entries."""
    layer = _layer(document)
    everything = layer.pop("all", None)
    if everything is not None:
        if everything[1]:
            raise PolicyConfigError("all: only an enforcement level can be set for all rules")
        if everything[0] is not None:
            for key, current in result.items():
                result[key] = PolicyConfig(everything[0], current.properties)
    for key, (level, props) in layer.items():
        if key not in result:
            raise PolicyConfigError(f"{key}: no such rule in the policy pack")
        current = result[key]
        result[key] = PolicyConfig(level or current.enforcement, {**current.properties, **props})


_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "array": (list, tuple), "object": (dict,), "string": (str,), "boolean": (bool,),
    "number": (int, float), "integer": (int,),
}


def _validate(value: Any, schema: Mapping[str, Any], where: str) -> None:
    """The subset of JSON schema the rules' options use."""
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _JSON_TYPES[kind]) and not (
            kind in ("number", "integer") and isinstance(value, bool))
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            ok = True
        if not ok:
            raise PolicyConfigError(f"{where}: {value!r} is not of type {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise PolicyConfigError(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, list | tuple):
        if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) != len(value):
            raise PolicyConfigError(f"{where}: items must be unique")
        for i, item in enumerate(value):
            _validate(item, schema.get("items", {}), f"{where}[{i}]")
    if isinstance(value, dict) and "additionalProperties" in schema:
        for key, item in value.items():
            _validate(item, schema["additionalProperties"], f"{where}.{key}")


def reconcile(kind: str, overrides: Mapping[str, Any] | None = None,
              rules: Sequence[AnyRule] = ALL) -> dict[str, PolicyConfig]:
    """Every rule's configuration for a stack, merged and validated as the engine does."""
    result = {rule.id: PolicyConfig(rule.default_enforcement,
                                    {k: v.get("default") for k, v in rule.config_schema().items()})
              for rule in rules}
    _apply(result, stack_config(kind, rules))
    if overrides:
        _apply(result, overrides)
    by_id = {rule.id: rule for rule in rules}
    for rule_id, config in result.items():
        schema = by_id[rule_id].config_schema()
        for key, value in config.properties.items():
            if key not in schema:
                raise PolicyConfigError(f"{rule_id}: unknown property {key!r}; "
                                        f"allowed: {', '.join(sorted(schema))}")
            _validate(value, schema[key], f"{rule_id}.{key}")
    return result


def _registry_hosts(registry: Path, stack_name: str) -> dict[str, list[str]]:
    """The host ownership of one stack's tenants, read through the tenants loader."""
    from tenants.loader import load_registry  # the loader reads YAML: only when asked
    from tenants.stacks import fleet_stacks

    specs = [s for s in fleet_stacks(load_registry(registry)) if s.name == stack_name]
    if not specs:
        raise PolicyConfigError(f"stack {stack_name!r} is not in the registry {registry}")
    return host_ownership(specs[0].tenants)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the ``--policy-pack-config`` file for one stack."""
    parser = argparse.ArgumentParser(prog="python -m policy.config", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", help="stack name; its kind follows from the name")
    parser.add_argument("--kind", choices=STACK_KINDS, help="stack kind (overrides --stack)")
    parser.add_argument("--registry", type=Path,
                        help="tenant registry: add the stack's tenants' host names (needs --stack)")
    parser.add_argument("--out", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    if not args.kind and not args.stack:
        parser.error("give --stack or --kind")
    if args.registry and not args.stack:
        parser.error("--registry needs --stack")
    kind = args.kind or stack_kind_of(args.stack)
    hosts = _registry_hosts(args.registry, args.stack) if args.registry else None
    text = json.dumps(stack_config(kind, hosts=hosts), indent=2, sort_keys=True) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

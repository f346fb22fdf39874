"""The physical names a plan declares, and the names two stacks would both own.

A resource's *physical name* is the identity the cloud knows it by: an S3 bucket's
``bucket``, an RDS instance's ``identifier``, an IAM role's, KMS alias's, secret's or
function's ``name``, a Kubernetes object's kind, namespace and name. Two stacks declaring
one physical name fight over one object: the second ``up`` fails (or adopts it), and the
first stack's delete takes the other's data. The names come from the plan's own inputs,
generically (:data:`NAME_INPUTS`), never from a list of what the platform happens to
create today.

Where a name lives decides whether two equal names are the same object (:class:`Scope`):

- S3 bucket names are global (one partition-wide namespace): equal names always collide,
  and so do the per-bucket settings (versioning, policy, encryption...) named by ``bucket``;
- other AWS names live in one account and region;
- Kubernetes names live in one cluster (each stack has its own).

``qualified=False`` compares bare names, as a reader of the two plans would: what a
naive tier edit shows as "the same name in both stacks".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenants import naming

if TYPE_CHECKING:  # pragma: no cover
    from tenants.stacks import StackSpec

#: Inputs that name a resource to its cloud, every one present, in this order: a resource
#: named inside another is both names (an EKS add-on is its cluster and its name, an access
#: entry its cluster and principal). ``role`` is not one: a function's ``role`` is the ARN
#: it runs as, a reference, not its identity.
NAME_INPUTS = ("clusterName", "bucket", "identifier", "name", "roleName", "functionName",
               "repositoryName", "nodeGroupName", "addonName", "principalArn", "secretName", "aliasName")
#: Types that are no cloud object of their own (providers, components, Pulumi-side values).
_NOT_NAMED = ("pulumi:", "pulumi-python:", "random:")


@dataclass(frozen=True)
class Scope:
    """Where one stack's names live: its AWS account and region, and its cluster."""

    account: str
    region: str
    cluster: str


@dataclass(frozen=True, order=True)
class Name:
    """One physical name: where it lives, the kind of object, the name itself."""

    where: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" (in {self.where})" if self.where else "")


def _name_of(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of a resource as its cloud knows it, or None if it names nothing."""
    rtype = str(resource.get("type", ""))
    inputs = resource.get("inputs") or {}
    if rtype.startswith(_NOT_NAMED) or not resource.get("custom", True):
        return None
    if rtype.startswith("kubernetes:"):
        meta = inputs.get("metadata") or {}
        name = meta.get("name") if isinstance(meta, Mapping) else None
        if not isinstance(name, str):
            return None
        kind = rtype.rsplit(":", 1)[-1]
        namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else ""
        return kind, f"{namespace}/{name}" if namespace else name
    parts = [f"{key}={inputs[key]}" for key in NAME_INPUTS
             if isinstance(inputs.get(key), str) and inputs[key]]
    if not parts:
        return None
    return rtype, ",".join(parts)


def _where(rtype: str, scope: Scope | None) -> str:
    if scope is None or rtype.startswith("aws:s3/"):
        return ""
    if rtype.startswith("kubernetes:"):
        return f"cluster {scope.cluster} of account {scope.account}"
    return f"account {scope.account} {scope.region}"


def names(resources: Iterable[Mapping[str, Any]], scope: Scope | None = None,
          *, only: Iterable[str] | None = None) -> dict[Name, list[str]]:
    """Physical name -> URNs declaring it, over one stack's resources.

    ``scope`` qualifies account-, region- and cluster-scoped names (None: bare names);
    ``only`` keeps the resources with those URNs.
    """
    wanted = set(only) if only is not None else None
    found: dict[Name, list[str]] = {}
    for res in resources:
        if wanted is not None and res["urn"] not in wanted:
            continue
        named = _name_of(res)
        if named is not None:
            found.setdefault(Name(_where(named[0], scope), *named), []).append(res["urn"])
    return found


def shared_names(stacks: Mapping[str, Iterable[Mapping[str, Any]]], scopes: Mapping[str, Scope] | None,
                 ) -> dict[Name, list[str]]:
    """Physical names declared by more than one stack -> those stacks (sorted).

    ``stacks``: stack name -> its planned resources; ``scopes``: stack name -> where its
    names live (None: compare bare names).
    """
    owners: dict[Name, set[str]] = {}
    for stack, resources in stacks.items():
        for name in names(resources, scopes[stack] if scopes is not None else None):
            owners.setdefault(name, set()).add(stack)
    return {n: sorted(s) for n, s in sorted(owners.items()) if len(s) > 1}


def data_bearing(resources: Iterable[Mapping[str, Any]]) -> set[str]:
    """URNs of protected or retained resources: the ones the platform marks as holding data."""
    return {r["urn"] for r in resources
            if (r.get("options") or {}).get("protect") or (r.get("options") or {}).get("retainOnDelete")}


def scope_of(spec: StackSpec) -> Scope:
    """Where a stack's names live: its account (None: the deploy runner's), region, cluster."""
    if spec.kind == "shared":
        assert spec.cell is not None
        cluster = naming.cell_cluster_name(spec.environment, spec.cell.name)
    else:
        cluster = spec.tenants[0].names(spec.environment).cluster
    return Scope(spec.account or "(the deploy runner's)", spec.region, cluster)

"""Effective RBAC: what every subject of a stack can do, whatever a binding's roleRef is.

A rule that reads a Role's own ``rules`` misses most ways a tenant gains rights: a
binding to a built-in ClusterRole (``edit`` has ``pods/exec``, secret reads and
ServiceAccount impersonation), to a platform ClusterRole nobody labelled as a tenant's,
or to an aggregated ClusterRole whose rules are the union of every ClusterRole its label
selectors match (``rbac.authorization.k8s.io/aggregate-to-edit`` adds to ``edit`` and so
to ``admin``). This module resolves a roleRef the way the API server does:

- ``Role``: the stack's Role of that name in the binding's namespace;
- ``ClusterRole``: the stack's ClusterRole of that name merged with Kubernetes' built-in
  one (``rbac_builtin.yaml``, the bootstrap policy; the API server reconciles built-ins,
  so a stack's ``edit`` only adds to the real one), plus, when it has an
  ``aggregationRule``, the rules of every stack or built-in ClusterRole whose labels
  match one of its selectors, recursively (the aggregation controller copies computed
  rules, so aggregation chains: view -> edit -> admin).

A roleRef that resolves to nothing known is *unknown*: tenant subjects never get unknown
rights (fail closed).

It also names a stack's subjects' tenants, under every name the platform gives them
(``tenants.naming``): the groups ``tenant:<id>:...``, ServiceAccounts of ``tenant-<id>``
(as ``ServiceAccount`` subjects, ``system:serviceaccount:<ns>:<name>`` users and
``system:serviceaccounts:<ns>`` groups), and the groups and user names EKS access entries
give a tenant's IAM principals. Groups that hold every tenant (``system:authenticated``
and friends) belong to :data:`EVERY_TENANT`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policy import aws, kube, tenancy
from policy.props import as_list, as_map, as_str_list, text
from policy.rule import Resource
from tenants import access, naming

BUILTIN_PATH = Path(__file__).with_name("rbac_builtin.yaml")
RBAC_GROUP = "rbac.authorization.k8s.io"
KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def _kinds(kind: str) -> Callable[[str], bool]:
    """The kind, its Server-Side Apply ``<Kind>Patch`` and its ``<Kind>List`` types.

    A patch makes its fields the live object's (a ``ClusterRoleBindingPatch`` can add a
    subject to any binding), and a list holds whole objects: all three grant rights.
    """
    return kube.matcher(*(f"{RBAC_GROUP}/{kind}{suffix}" for suffix in ("", "Patch", "List")))


IS_ROLE = _kinds("Role")
IS_CLUSTER_ROLE = _kinds("ClusterRole")
IS_ROLE_BINDING = _kinds("RoleBinding")
IS_CLUSTER_ROLE_BINDING = _kinds("ClusterRoleBinding")


@dataclass(frozen=True)
class RbacObject:
    """One RBAC object of the stack: its kind without Patch/List, its body, its resource."""

    kind: str
    props: Mapping[str, Any]
    resource: Resource


def objects(resources: Iterable[Resource]) -> Iterator[RbacObject]:
    """Every Role, ClusterRole and binding, patches included and lists expanded."""
    for res in resources:
        if not tenancy.is_k8s_object(res.type) or tenancy.k8s_group(res.type) != RBAC_GROUP:
            continue
        kind = tenancy.k8s_kind(res.type)
        if kind.endswith("List") and kind[:-len("List")] in KINDS:
            for item in as_list(res.props.get("items")):
                yield RbacObject(kind[:-len("List")], as_map(item), res)
        elif kind.removesuffix("Patch") in KINDS:
            yield RbacObject(kind.removesuffix("Patch"), res.props, res)

#: The owner of subjects that every tenant's users or ServiceAccounts are part of.
EVERY_TENANT = "*"
#: Groups Kubernetes puts every user, every unauthenticated caller or every ServiceAccount in.
EVERYONE_GROUPS = frozenset({"system:authenticated", "system:unauthenticated",
                             "system:serviceaccounts"})
#: Groups EKS gives an access entry by type (non-STANDARD entries are nodes).
NODE_ENTRY_GROUPS = {"EC2_LINUX": ("system:nodes", "system:bootstrappers"),
                     "EC2_WINDOWS": ("system:nodes", "system:bootstrappers",
                                     "eks:kube-proxy-windows"),
                     "FARGATE_LINUX": ("system:nodes", "system:bootstrappers",
                                       "system:node-proxier"),
                     "EC2": ("system:nodes",), "HYBRID_LINUX": ("system:nodes",)}
#: EKS access policies and the user-facing ClusterRole each mirrors (AWS: "the permissions
#: in access policies are similar to the Kubernetes user-facing cluster roles"). Any
#: other policy resolves to unknown.
ACCESS_POLICY_ROLES = {"AmazonEKSClusterAdminPolicy": "cluster-admin",
                       "AmazonEKSAdminPolicy": "admin", "AmazonEKSEditPolicy": "edit",
                       "AmazonEKSViewPolicy": "view"}


# --- roles ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterRoleDef:
    """A ClusterRole's labels, aggregation selectors (``None``: not aggregated) and rules."""

    name: str
    labels: Mapping[str, Any]
    selectors: tuple[Mapping[str, Any], ...] | None
    rules: tuple[Mapping[str, Any], ...]

    def merged(self, other: ClusterRoleDef) -> ClusterRoleDef:
        """Both definitions at once (a stack's object over a built-in of the same name)."""
        selectors = None if self.selectors is None and other.selectors is None else (
            (self.selectors or ()) + (other.selectors or ()))
        return ClusterRoleDef(self.name, {**self.labels, **other.labels}, selectors,
                              self.rules + other.rules)


def _definition(name: str, body: Mapping[str, Any], labels: Mapping[str, Any]) -> ClusterRoleDef:
    aggregation = body.get("aggregationRule")
    selectors = None if aggregation is None else tuple(
        as_map(s) for s in as_list(as_map(aggregation).get("clusterRoleSelectors")))
    return ClusterRoleDef(name, labels, selectors,
                          tuple(as_map(r) for r in as_list(body.get("rules"))))


@functools.cache
def builtin_cluster_roles() -> Mapping[str, ClusterRoleDef]:
    """Kubernetes' bootstrap ClusterRoles, by name (see ``rbac_builtin.yaml`` for the source)."""
    document = yaml.safe_load(BUILTIN_PATH.read_text())
    return {str(r["name"]): _definition(str(r["name"]), r, as_map(r.get("labels")))
            for r in document["clusterRoles"]}


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """A Kubernetes LabelSelector over labels (an empty selector matches everything)."""
    for key, value in as_map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in as_list(selector.get("matchExpressions")):
        expression = as_map(expression)
        key, operator = text(expression.get("key")) or "", expression.get("operator")
        values = set(as_str_list(expression.get("values")))
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


@dataclass(frozen=True)
class Resolved:
    """The rules a roleRef grants; ``known`` is false if it names no role the pack knows."""

    rules: tuple[Mapping[str, Any], ...]
    known: bool


UNKNOWN = Resolved((), known=False)


class RoleIndex:
    """The stack's Roles and ClusterRoles, with Kubernetes' built-ins behind them."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.roles: dict[tuple[str, str], tuple[Mapping[str, Any], ...]] = {}
        self.cluster_roles: dict[str, ClusterRoleDef] = dict(builtin_cluster_roles())
        for obj in objects(resources):
            name = kube.name(obj.props)
            if name is None:
                continue
            if obj.kind == "Role":
                key = (kube.namespace(obj.props) or "", name)
                self.roles[key] = self.roles.get(key, ()) + tuple(kube.rules_of(obj.props))
            elif obj.kind == "ClusterRole":
                found = _definition(name, obj.props, kube.labels(obj.props))
                known = self.cluster_roles.get(name)
                self.cluster_roles[name] = known.merged(found) if known else found

    def cluster_role(self, name: str) -> Resolved:
        """A ClusterRole's rules with everything aggregated into it."""
        if name not in self.cluster_roles:
            return UNKNOWN
        return Resolved(tuple(self._aggregate(name, frozenset())), known=True)

    def _aggregate(self, name: str, seen: frozenset[str]) -> Iterator[Mapping[str, Any]]:
        role = self.cluster_roles[name]
        yield from role.rules
        if role.selectors is None:
            return
        for other in self.cluster_roles.values():
            if other.name in seen | {name}:
                continue
            if any(selector_matches(s, other.labels) for s in role.selectors):
                yield from self._aggregate(other.name, seen | {name})

    def resolve(self, ref: Mapping[str, Any], namespace: str | None) -> Resolved:
        """What a binding's roleRef grants (``namespace``: a RoleBinding's, ``None`` for CRBs)."""
        kind, name = ref.get("kind"), text(ref.get("name"))
        if name is None:
            return UNKNOWN
        if kind == "ClusterRole":
            return self.cluster_role(name)
        if kind == "Role" and namespace is not None and (namespace, name) in self.roles:
            return Resolved(self.roles[(namespace, name)], known=True)
        return UNKNOWN

    def access_policy(self, policy_arn: Any) -> Resolved:
        """What an EKS access policy grants, as its user-facing ClusterRole equivalent."""
        role = ACCESS_POLICY_ROLES.get(str(policy_arn).rsplit("/", 1)[-1])
        return self.cluster_role(role) if role else UNKNOWN


# --- permissions ------------------------------------------------------------------------
@dataclass(frozen=True)
class Permission:
    """One (API group, resource, verb) a rule grants; ``*`` stays ``*``."""

    api_group: str
    resource: str
    verb: str

    def __str__(self) -> str:
        group = self.api_group or "core"
        return f"{self.verb} {group}/{self.resource}"


def permissions(rules: Iterable[Mapping[str, Any]]) -> Iterator[Permission]:
    """Every resource permission of some rules (nonResourceURLs are cluster-only: see below)."""
    for rule in rules:
        for group in as_str_list(rule.get("apiGroups")):
            for resource in as_str_list(rule.get("resources")):
                for verb in as_str_list(rule.get("verbs")):
                    yield Permission(group, resource, verb)


def beyond_allowlist(rules: Iterable[Mapping[str, Any]]) -> list[Permission]:
    """The permissions the tenant allowlist (``tenants.access``) does not hold, in order.

    ``nonResourceURLs`` count as beyond it too: a tenant needs none.
    """
    rules = list(rules)
    found = [p for p in permissions(rules) if not access.allows(p.api_group, p.resource, p.verb)]
    found += [Permission("", f"nonResourceURL:{url}", verb) for rule in rules
              for url in as_str_list(rule.get("nonResourceURLs"))
              for verb in as_str_list(rule.get("verbs"))]
    return list(dict.fromkeys(found))


# --- subjects ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AccessEntry:
    """An EKS access entry: its principal, whose it is, and the Kubernetes names it gets."""

    resource: Resource
    principal: str
    owners: frozenset[str]
    groups: tuple[str, ...]
    username: str | None
    type: str


def _principal_is_platform(principal: str) -> bool:
    return naming.is_platform_admin_role(principal.rsplit("/", 1)[-1])


def _entry(res: Resource, props: Mapping[str, Any]) -> AccessEntry:
    principal = text(props.get("principalArn")) or ""
    groups = tuple(as_str_list(props.get("kubernetesGroups")))
    kind = text(props.get("type")) or "STANDARD"
    owners = {t for t in map(naming.tenant_of_group, groups) if t}
    tagged = text(as_map(props.get("tags")).get(naming.LABEL_TENANT))
    if tagged and not _principal_is_platform(principal):
        owners.add(tagged)
    return AccessEntry(res, principal, frozenset(owners),
                       groups + NODE_ENTRY_GROUPS.get(kind, ()),
                       text(props.get("userName")) or text(props.get("username")), kind)


def access_entries(resources: Iterable[Resource]) -> list[AccessEntry]:
    """Standalone access entries and those inlined in a cluster (pulumi-eks)."""
    found = []
    for res in resources:
        if res.type == aws.ACCESS_ENTRY:
            found.append(_entry(res, res.props))
        elif res.type in aws.CLUSTER_TYPES:
            found += [_entry(res, as_map(e)) for e in as_map(res.props.get("accessEntries")).values()]
    return found


@dataclass(frozen=True)
class Identities:
    """Who the tenants are under Kubernetes names that only access entries reveal."""

    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    users: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @staticmethod
    def of(entries: Sequence[AccessEntry]) -> Identities:
        """The groups and users that tenant principals' access entries give them."""
        groups: dict[str, frozenset[str]] = {}
        users: dict[str, frozenset[str]] = {}
        for entry in entries:
            if not entry.owners:
                continue
            for group in entry.groups:
                groups[group] = groups.get(group, frozenset()) | entry.owners
            for user in filter(None, (entry.username, entry.principal)):
                users[user] = users.get(user, frozenset()) | entry.owners
        return Identities(groups, users)


def _of_namespace(namespace: str | None) -> set[str]:
    tenant = tenancy.tenant_of_namespace(namespace)
    return {tenant} if tenant else set()


def subject_tenants(subject: Mapping[str, Any], namespace: str | None,
                    identities: Identities) -> set[str]:
    """The tenants a binding subject stands for (:data:`EVERY_TENANT` for everyone groups).

    ``namespace`` is the binding's: a ServiceAccount subject without one means its own.
    """
    kind, name = subject.get("kind"), text(subject.get("name")) or ""
    if kind == "ServiceAccount":
        return _of_namespace(text(subject.get("namespace")) or namespace)
    if kind == "Group":
        if name in EVERYONE_GROUPS:
            return {EVERY_TENANT}
        owners = set(identities.groups.get(name, frozenset()))
        if name.startswith(naming.SERVICE_ACCOUNTS_GROUP_PREFIX):
            owners |= _of_namespace(name[len(naming.SERVICE_ACCOUNTS_GROUP_PREFIX):])
        tenant = naming.tenant_of_group(name)
        return owners | ({tenant} if tenant else set())
    owners = set(identities.users.get(name, frozenset()))
    if name.startswith(naming.SERVICE_ACCOUNT_USER_PREFIX):
        owners |= _of_namespace(name[len(naming.SERVICE_ACCOUNT_USER_PREFIX):].split(":", 1)[0])
    return owners

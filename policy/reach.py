"""Which tenants an ARN or ARN pattern reaches, judged against the names tenants.naming gives.

Two questions, both answered from the naming functions themselves (never a guessed
pattern): each tenant-named resource kind is a *template* ``<lead><before><id><after>``
obtained by calling the naming function with a sentinel tenant id and cutting around it.

- :func:`named_tenants` (literal values): which of the known tenants a name or ARN embeds,
  by looking up the text after each naming prefix in a set of ids (index-based: no loop
  over tenants), the longest id winning where two share a start (``acme``/``acme-corp``).
- :func:`reaches_other_tenant` (patterns): whether an IAM pattern (``*``/``?`` anywhere)
  matches the name of *some* valid tenant id other than the owner, present in the stack
  or not (``t_*_app`` reaches future tenants too). Decided exactly, by a search over the
  product of the pattern's automaton and the template's (the id ranging over every string
  ``naming.validate_tenant_id`` accepts, minus the owner and the reserved ids).
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from policy.iam import glob_matches
from tenants import naming

_SENTINEL = "zq-sentinel-zq"
_PURPOSE = "qpurposeq"
_ID_FIRST = frozenset(string.ascii_lowercase)
_ID_LAST = frozenset(string.ascii_lowercase + string.digits)
_MIN_ID, _MAX_ID = 3, 30
#: Ids that are never another tenant: reserved ids, and cell names (``tp-<env>-cell-<cell>``).
_NOT_TENANT = frozenset({*naming.RESERVED_TENANT_IDS, "cell"})
_NOT_TENANT_PREFIX = "cell-"


@dataclass(frozen=True)
class Template:
    """A tenant-named resource kind: ``<lead>[<segment>/]<before><id><after><tail>`` in an ARN.

    ``service`` is the ARN's service; ``lead`` the resource part before the name
    (``role/``, ``secret:``); ``segment`` whether a non-empty ``[^/]`` run and ``/`` come
    between (the proxy id of ``dbuser:prx-.../<user>``); ``underscore`` whether the id's
    ``-`` become ``_`` (PostgreSQL names); ``tail``: ``end`` (nothing may follow), ``sep``
    (nothing, or ``/`` or ``:`` and anything) or ``any`` (a free suffix: a purpose, a
    secret's random suffix).
    """

    service: str
    lead: str
    before: str
    after: str
    underscore: bool = False
    segment: bool = False
    tail: str = "end"
    #: The name embeds an opaque token of the id (``naming.db_token``), not the id: any
    #: string of ``token`` lowercase hex characters is some tenant's.
    token: int = 0


def _token(tenant_id: str) -> str | None:
    """The opaque stem naming derives PostgreSQL names from, if it hashes ids."""
    derive = getattr(naming, "db_token", None)
    return derive(tenant_id) if derive is not None else None


def _cut(name: str, service: str, lead: str, tail: str, segment: bool = False) -> Template:
    token = _token(_SENTINEL)
    if _SENTINEL in name:
        ident, underscore, hexes = _SENTINEL, False, 0
    elif _SENTINEL.replace("-", "_") in name:
        ident, underscore, hexes = _SENTINEL.replace("-", "_"), True, 0
    elif token is not None and token in name:
        # ``t`` + hex: the fixed letter stays in ``before``, the hex digits are the id.
        ident, underscore, hexes = token[1:], False, len(token) - 1
    else:
        raise ValueError(f"naming no longer embeds the tenant in {name!r}")
    before, _, after = name.partition(ident)
    if _PURPOSE in after:
        after, tail = after.partition(_PURPOSE)[0], "any"
    return Template(service, lead, before, after, underscore, segment, tail, hexes)


@lru_cache(maxsize=64)
def templates(environment: str) -> tuple[Template, ...]:
    """Every tenant-named resource kind of one environment, from tenants.naming."""
    n = naming.TenantNames(_SENTINEL, environment)
    clusters = n.cluster_names
    found = [
        _cut(n.files_bucket, "s3", "", "sep"),
        _cut(n.access_log_bucket, "s3", "", "sep"),
        *(_cut(n.iam_role(w), "iam", "role/", "end") for w in naming.WORKLOADS),
        _cut(n.node_role, "iam", "role/", "end"),
        _cut(clusters.role(_PURPOSE), "iam", "role/", "any"),
        _cut(n.db_connect_policy, "iam", "policy/", "end"),
        _cut(n.kms_alias(_PURPOSE), "kms", "", "any"),
        _cut(n.db_secret, "secretsmanager", "secret:", "any"),
        _cut(n.db_role, "rds-db", "dbuser:", "end", segment=True),
        _cut(n.db_identifier, "rds", "db:", "end"),
        _cut(n.ecr_repository(_PURPOSE), "ecr", "repository/", "any"),
        _cut(n.cluster, "eks", "cluster/", "end"),
        _cut(n.db_rotation, "lambda", "function:", "sep"),
        _cut(clusters.control_plane_log_group, "logs", "log-group:", "any"),
    ]
    return tuple(found)


def _split_arn(value: str) -> tuple[str, str] | None:
    """(service, resource part) of an ARN or ARN pattern; ``None`` if it is not an ARN."""
    parts = value.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        return parts[2], parts[5]
    if value.startswith("arn:") and "*" in value:
        return "*", "*"  # the wildcard may span the missing segments
    return None


# --- literals: which known tenants a value names ------------------------------------------
@lru_cache(maxsize=64)
def _prefixes(environment: str) -> list[tuple[str, bool]]:
    """The distinct naming prefixes (``tp-<env>-``, ``tenant-``, ``t_``...), with the underscore flag."""
    seen = {(t.before, t.underscore) for t in templates(environment) if t.before and not t.token}
    seen.add(("tenant-", False))  # naming.tenant_namespace
    return sorted(seen)


@lru_cache(maxsize=16)
def _tokens(known: frozenset[str]) -> dict[str, str]:
    """Opaque database tokens (without their leading letter) of the known tenants."""
    out = {}
    for tenant in known:
        token = _token(tenant) if naming.TENANT_ID_RE.match(tenant) else None
        if token is not None:
            out[token[1:]] = tenant
    return out


def named_tenants(value: str, known: frozenset[str], environments: Iterable[str]) -> set[str]:
    """The known tenants whose id (or database token) a literal name or ARN embeds."""
    found: set[str] = set()
    tokens = _tokens(known)
    if tokens:
        width = len(next(iter(tokens)))
        for start in range(len(value) - width + 1):
            tenant = tokens.get(value[start:start + width])
            if tenant is not None:
                found.add(tenant)
    for environment in environments:
        for prefix, underscore in _prefixes(environment):
            start = value.find(prefix)
            while start != -1:
                if start == 0 or not value[start - 1].isalnum():
                    tenant = _longest_id(value[start + len(prefix):], known, underscore)
                    if tenant is not None:
                        found.add(tenant)
                start = value.find(prefix, start + 1)
    return found


def _longest_id(rest: str, known: frozenset[str], underscore: bool) -> str | None:
    for length in range(min(_MAX_ID, len(rest)), _MIN_ID - 1, -1):
        candidate = rest[:length]
        after = rest[length:length + 1]
        ident = candidate.replace("_", "-") if underscore else candidate
        boundary = not after or not after.isalnum() and (underscore or after != "_")
        if ident in known and boundary:
            return ident
    return None


# --- patterns: whether a wildcard reaches any other tenant --------------------------------
def reaches_other_tenant(pattern: str, owner: str | None, environments: Iterable[str]) -> bool:
    """Whether an ARN pattern (or ``*``) can match a name of a tenant other than ``owner``."""
    if pattern in ("*", "arn:*"):
        return True
    split = _split_arn(pattern)
    if split is None:
        return False
    service, resource = split
    return any(_reaches(resource, t, owner or "")
               for environment in environments for t in templates(environment)
               if _service_matches(service, t.service))


def _service_matches(pattern: str, service: str) -> bool:
    return glob_matches(pattern, service)


@lru_cache(maxsize=8192)
def _reaches(resource: str, template: Template, owner: str) -> bool:
    if "*" not in resource and "?" not in resource:
        return False
    return _Search(resource, template, owner).run()


class _Search:
    """Breadth-first search over (pattern positions, template position) for a witness name."""

    def __init__(self, pattern: str, template: Template, owner: str) -> None:
        self.pattern = pattern
        self.t = template
        fold = (lambda s: s.replace("-", "_")) if template.underscore else (lambda s: s)
        self.excluded = frozenset(fold(x) for x in {*_NOT_TENANT, owner} if x)
        self.not_prefix = fold(_NOT_TENANT_PREFIX)
        joiner = "_" if template.underscore else "-"
        self.middle = frozenset(string.ascii_lowercase + string.digits + joiner)
        self.first, self.last = _ID_FIRST, _ID_LAST
        self.min_len, self.max_len = _MIN_ID, _MAX_ID
        if template.token:
            own = _token(owner) if owner and naming.TENANT_ID_RE.match(owner) else None
            self.excluded = frozenset({own[1:]} if own else ())
            self.not_prefix = "\x00"
            self.middle = self.first = self.last = frozenset(string.hexdigits.lower()[:16])
            self.min_len = self.max_len = template.token
        literal = {c for c in pattern if c not in "*?"}
        # Characters that behave alike for the pattern collapse to one representative.
        self.free = sorted(literal | {"\x01"})

    # pattern automaton: a set of positions, closed over '*' matching nothing
    def _close(self, positions: Iterable[int]) -> frozenset[int]:
        out, todo = set(), list(positions)
        while todo:
            i = todo.pop()
            if i in out:
                continue
            out.add(i)
            if i < len(self.pattern) and self.pattern[i] == "*":
                todo.append(i + 1)
        return frozenset(out)

    def _step(self, positions: frozenset[int], char: str) -> frozenset[int]:
        nxt = []
        for i in positions:
            if i < len(self.pattern):
                symbol = self.pattern[i]
                if symbol == "*":
                    nxt.append(i)
                elif symbol in ("?", char):
                    nxt.append(i + 1)
        return self._close(nxt)

    def run(self) -> bool:
        start = self._close([0])
        # phase 1: the fixed lead, [segment '/'], and 'before' literals
        states = {start}
        for char in self.t.lead:
            states = {s for p in states if (s := self._step(p, char))}
        if self.t.segment:
            states = self._segment(states)
        for char in self.t.before:
            states = {s for p in states if (s := self._step(p, char))}
        # phase 2: the id, tracking which excluded ids it still equals
        frontier: set[tuple[frozenset[int], str]] = {(p, "") for p in states if p}
        seen: set[tuple[frozenset[int], int, frozenset[str], bool, bool]] = set()
        while frontier:
            nxt: set[tuple[frozenset[int], str]] = set()
            for positions, ident in frontier:
                if len(ident) >= self.min_len and ident[-1] in self.last \
                        and ident not in self.excluded and self._finish(positions):
                    return True
                if len(ident) == self.max_len:
                    continue
                chars = self.first if not ident else self.middle
                for char in sorted(chars):
                    moved = self._step(positions, char)
                    if not moved:
                        continue
                    grown = ident + char
                    if grown.startswith(self.not_prefix):
                        continue
                    alive = frozenset(e for e in self.excluded if e.startswith(grown))
                    key = (moved, len(grown), alive, self.not_prefix.startswith(grown), char in self.last)
                    if key in seen:
                        continue
                    seen.add(key)
                    nxt.add((moved, grown))
            frontier = nxt
        return False

    def _segment(self, states: set[frozenset[int]]) -> set[frozenset[int]]:
        """A non-empty run of non-``/`` characters, then ``/``."""
        out: set[frozenset[int]] = set()
        todo = [s for p in states for c in self.free if c != "/" and (s := self._step(p, c))]
        seen: set[frozenset[int]] = set()
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            if (s := self._step(p, "/")):
                out.add(s)
            todo += [s for c in self.free if c != "/" and (s := self._step(p, c))]
        return out

    def _finish(self, positions: frozenset[int]) -> bool:
        for char in self.t.after:
            positions = self._step(positions, char)
            if not positions:
                return False
        accept = len(self.pattern)
        if self.t.tail == "any":
            return True
        if accept in positions:
            return True
        if self.t.tail == "sep":
            return any(self._step(positions, c) for c in "/:")
        return False

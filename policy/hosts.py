"""Which host names a tenant may claim: its registry hosts and its own namespace's services.

The registry gives each tenant its public host names (``tenant.hostname``, fed to the
rules as the ``tenantHosts`` option by :func:`policy.config.host_ownership`); a subdomain
of one is the tenant's too (the loader refuses a host that is another tenant's ancestor).
Inside the cluster a tenant owns the services of its namespace: ``svc``, ``svc.<ns>``,
``svc.<ns>.svc``, ``svc.<ns>.svc.cluster.local`` and ``<name>.<ns>.internal`` (the
platform's ServiceEntry names). Anything else, ``*`` included, belongs to someone else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_INTERNAL = re.compile(r"^(?:\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(?P<ns>[a-z0-9-]+)"
                       r"(?:\.svc(?:\.cluster\.local)?|\.internal)?$")
_SHORT = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def normalise(host: str) -> str:
    """Lowercase, no trailing dot."""
    return host.strip().lower().rstrip(".")


def split_namespace(host: str) -> tuple[str | None, str]:
    """``("tenant-a", "a.example")`` for a ``namespace/host`` entry (Gateway, Sidecar)."""
    if "/" in host:
        namespace, _, bare = host.partition("/")
        return namespace, bare
    return None, host


def in_domains(host: str, domains: Iterable[str]) -> bool:
    """Whether ``host`` (or a wildcard's domain) is one of ``domains`` or below one."""
    host = normalise(host)
    bare = host[2:] if host.startswith("*.") else host
    return any(bare == d or bare.endswith("." + d) for d in (normalise(x) for x in domains) if d)


def internal_namespace(host: str) -> str | None:
    """The namespace an in-cluster host name points into (``None`` if it is not one)."""
    match = _INTERNAL.match(normalise(host))
    return match.group("ns") if match else None


def owned(host: str, namespace: str, domains: Iterable[str], *, internal: bool = True) -> bool:
    """Whether the tenant of ``namespace`` with registry hosts ``domains`` owns ``host``.

    ``internal``: in-cluster names count (routes and service entries); False where only
    public names make sense (certificates, gateway servers).
    """
    host = normalise(host)
    if in_domains(host, domains):
        return True
    if not internal:
        return False
    return bool(_SHORT.match(host)) or internal_namespace(host) == namespace

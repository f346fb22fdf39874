"""Which AWS account each stack deploys into, and the registry checks that follow from it.

A cell's stack deploys into its cell's account (``cells[].account``, default the
platform's ``platform_account``); a dedicated tenant's stack into the tenant's own
``account`` (the silo boundary AWS recommends: its VPC, Elastic IPs, RDS Proxy and EKS
cluster count against that account's quotas, not the platform's). The loader checks:

- a dedicated tenant names its account, and it is its own: no other dedicated tenant's,
  no cell's, not the platform's;
- with ``hosted_zones`` declared, each host name lies in one of them, in the account of
  the stack serving it (external-dns and cert-manager there can write no other account's
  zones): during a move between accounts, the source's until the switch, the target's
  after it (docs/migration.md, DNS);
- the planned use of every account and region fits ``account_quotas`` (:mod:`tenants.quotas`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tenants import naming
from tenants.models import PlatformSettings, Tier
from tenants.problems import Problem, show_value
from tenants.quotas import PlannedStack, account_label, quota_problems

if TYPE_CHECKING:
    from tenants.loader import ResolvedTenant

PLATFORM_FILE = "_platform.yaml"


def tenant_account(settings: PlatformSettings, tier: Tier, account: str | None,
                   cell: str | None) -> str | None:
    """The account a tenant's resources live in: its own (``cluster``) or its cell's."""
    if tier is Tier.CLUSTER:
        return account
    cells = {c.name: c for c in settings.cells}
    return settings.account_of(cells[cell]) if cell in cells else settings.platform_account


def _account_problems(settings: PlatformSettings, tenants: Sequence[ResolvedTenant]) -> list[Problem]:
    problems = []
    shared: dict[str, str] = {}
    if settings.platform_account:
        shared[settings.platform_account] = "the platform account"
    for cell in settings.cells:
        if (account := settings.account_of(cell)) is not None:
            shared.setdefault(account, f"cell {cell.name}")
    owners: dict[str, str] = {}
    for tenant in tenants:
        account = tenant.record.account
        if tenant.tier is not Tier.CLUSTER:
            continue
        if account is None:
            problems.append(Problem(tenant.source, "account", "(missing)",
                                    "a cluster-tier tenant lives in its own AWS account: give its 12-digit "
                                    "account id (docs/cluster.md, Accounts and quotas)"))
            continue
        if account in shared:
            problems.append(Problem(tenant.source, "account", show_value(account),
                                    f"is {shared[account]}'s: a dedicated tenant needs an account of "
                                    "its own"))
        elif account in owners:
            problems.append(Problem(tenant.source, "account", show_value(account),
                                    f"is already tenant {owners[account]}'s: a dedicated tenant needs an "
                                    "account of its own"))
        else:
            owners[account] = tenant.id
    return problems


def _serving_account(settings: PlatformSettings, tenant: ResolvedTenant) -> str | None:
    """The account of the placement serving the tenant's host (a move's source until its switch)."""
    from tenants import placements  # placements builds its views with this module's accounts

    serving = [v for v in placements.views(tenant, settings) if v.serving]
    return serving[0].account if serving else tenant.account


def _zone_problems(settings: PlatformSettings, tenants: Sequence[ResolvedTenant]) -> list[Problem]:
    # The zone is looked up in the serving account only: a zone for the host in any other
    # account (a move's target before its switch, a tenant's claim on a zone it does not
    # serve from) is one its add-ons there cannot write, and it serves nobody here.
    problems = []
    for tenant in tenants:
        zone = settings.zone_of(tenant.hostname)
        if zone is None:
            problems.append(Problem(tenant.source, "hostname", show_value(tenant.hostname),
                                    "is in no hosted zone the platform manages: list its zone under "
                                    "hosted_zones in _platform.yaml"))
            continue
        account = _serving_account(settings, tenant)
        if settings.hosted_zones and settings.zone_of(tenant.hostname, account) is None:
            problems.append(Problem(
                tenant.source, "hostname", show_value(tenant.hostname),
                f"its hosted zone {zone.domain} is in {account_label(settings.zone_account(zone))}, but "
                f"the stack serving it deploys into {account_label(account)}, whose DNS add-ons cannot "
                "write it: delegate a zone for the host into that account (NS records in the parent "
                "zone) and list it under hosted_zones"))
    return problems


def planned_stacks(settings: PlatformSettings, tenants: Sequence[ResolvedTenant]) -> list[PlannedStack]:
    """Every stack the registry plans, with its account and region (cells even when empty)."""
    stacks = [PlannedStack(naming.shared_stack_name(c.name), settings.account_of(c), c.region,
                           has_proxy=any(t.cell == c.name for t in tenants if t.tier.shared))
              for c in settings.cells]
    stacks += [PlannedStack(naming.dedicated_stack_name(t.id), t.account, t.region,
                            declares=t.record.lifecycle.dedicated_stack)
               for t in tenants if t.tier is Tier.CLUSTER]
    return stacks


def check_accounts(settings: PlatformSettings, tenants: Sequence[ResolvedTenant]) -> list[Problem]:
    """Every account, DNS-zone and quota problem of a resolved registry (module doc)."""
    quota = [Problem(PLATFORM_FILE, field, value, message)
             for field, value, message in quota_problems(planned_stacks(settings, tenants),
                                                         settings.account_quotas)]
    return [*_account_problems(settings, tenants), *_zone_problems(settings, tenants), *quota]

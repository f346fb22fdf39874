"""The DNS delegation a move between accounts needs, and the operator's part in it.

A cluster's external-dns and cert-manager write only their own account's hosted zones
(docs/migration.md, DNS). When a move changes the account that serves a host, and with it
the zone that holds the host's records, public resolvers follow only once the zone that
delegates the host (the closest listed zone above it) points at the new one: NS records for
the host set to the new zone's name servers, or removed when the new zone is that parent
itself (a move back into the parent zone's account). That change is the operator's: the
platform does not write the parent zone (no stack's IAM reaches it across accounts), and
public DNS cannot be read from the deploy runner's private network.

So a move whose serving zone changes gets a ``delegate`` step after ``switch``: the run
stops there (exit 4, "waiting") with the exact change to make, and continues with
``--delegated`` once the operator has made it. Before it, the source still serves what
resolvers reach; ``retire-source`` never runs before the operator says the delegation is
in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tenants.models import HostedZone, PlatformSettings


@dataclass(frozen=True)
class Zone:
    """A listed hosted zone, as the state file keeps it."""

    domain: str
    zone_id: str | None
    account: str | None

    @classmethod
    def of(cls, settings: PlatformSettings, zone: HostedZone) -> Zone:
        """The zone with its account resolved (a zone without ``account`` is the platform's)."""
        return cls(str(zone.domain), zone.zone_id, settings.zone_account(zone))

    def label(self) -> str:
        """``domain (zone Z..., account A)`` for messages."""
        where = ", ".join(p for p in (f"zone {self.zone_id}" if self.zone_id else "",
                                       f"account {self.account}" if self.account else "") if p)
        return f"{self.domain} ({where})" if where else self.domain


@dataclass(frozen=True)
class Delegation:
    """The change of the host's delegation that makes resolvers follow the switch."""

    hostname: str
    #: The zone that serves the host before the switch, and the one after it.
    source_zone: Zone
    target_zone: Zone
    #: The closest listed zone above the host: where its NS records live.
    parent_zone: Zone | None

    @property
    def delegates(self) -> bool:
        """True: NS records for the host point at ``target_zone``; False: they are removed."""
        return self.target_zone.domain == self.hostname

    def instructions(self) -> list[str]:
        """What the operator does, in order, before ``--delegated``."""
        parent = self.parent_zone.label() if self.parent_zone else f"the zone above {self.hostname}"
        if self.delegates:
            zone_id = self.target_zone.zone_id or "<zone id>"
            return [f"read the name servers of {self.target_zone.label()}: aws route53 get-hosted-zone "
                    f"--id {zone_id} --query DelegationSet.NameServers",
                    f"in {parent}, set the NS records of {self.hostname} to exactly those name servers "
                    "(replacing any earlier delegation of the host)",
                    f"wait until `dig +short NS {self.hostname}` answers with them (the NS TTL), then rerun "
                    "the same command with --delegated"]
        return [f"in {parent}, delete the NS records of {self.hostname}, so that "
                f"{self.target_zone.label()} answers for it again",
                f"wait until `dig +short NS {self.hostname}` no longer answers with the old zone's name "
                "servers (the NS TTL), then rerun the same command with --delegated"]

    def as_json(self) -> dict[str, Any]:
        """For the state file."""
        def zone(z: Zone | None) -> dict[str, Any] | None:
            return None if z is None else {"domain": z.domain, "zoneId": z.zone_id, "account": z.account}
        return {"hostname": self.hostname, "sourceZone": zone(self.source_zone),
                "targetZone": zone(self.target_zone), "parentZone": zone(self.parent_zone)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delegation:
        """The delegation a state file recorded."""
        def zone(z: Mapping[str, Any] | None) -> Zone | None:
            return None if z is None else Zone(z["domain"], z.get("zoneId"), z.get("account"))
        source, target = zone(data["sourceZone"]), zone(data["targetZone"])
        assert source is not None and target is not None
        return cls(data["hostname"], source, target, zone(data.get("parentZone")))


def needed(settings: PlatformSettings, hostname: str, here: str | None,
           there: str | None) -> Delegation | None:
    """The delegation a move from account ``here`` to ``there`` needs, or None.

    None when the zones are not listed (``hosted_zones`` empty: zones implied by name, in
    no known account, and nothing the platform can say about them) or when both accounts
    serve the host from the same zone.
    """
    if not settings.hosted_zones:
        return None
    source, target = settings.zone_of(hostname, here), settings.zone_of(hostname, there)
    if source is None or target is None:
        return None  # the registry and the move's own checks refuse a host without a zone
    before, after = Zone.of(settings, source), Zone.of(settings, target)
    if before == after:
        return None
    above = sorted((z for z in settings.hosted_zones
                    if z.domain != hostname and hostname.endswith("." + z.domain)),
                   key=lambda z: -len(z.domain))
    return Delegation(hostname, before, after, Zone.of(settings, above[0]) if above else None)

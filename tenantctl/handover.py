"""The handover record: what a new customer needs to be told once its environment is up.

Written next to the plan (``<out>/handover-<id>.json``) before anything is sent, so that
nothing is lost when the webhook is down; then POSTed as JSON to the configured webhook
(``--webhook`` or ``$TENANTCTL_HANDOVER_WEBHOOK``: a URL is often a secret, so it is
configuration of the runner, not registry data).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.chatbot import public_chatbot_url
from tenants.loader import ResolvedTenant

WEBHOOK_ENV = "TENANTCTL_HANDOVER_WEBHOOK"
TIMEOUT_SECONDS = 10


class WebhookFailed(Exception):
    """The webhook did not accept the record (it is still on disk)."""


@dataclass(frozen=True)
class Handover:
    """What was built for a tenant, for the people who tell the customer."""

    tenant: str
    display_name: str
    tier: str
    plan: str
    stack: str
    hostname: str
    url: str
    chatbot_url: str | None
    created: Mapping[str, int] = field(default_factory=dict)
    contacts: tuple[Mapping[str, Any], ...] = ()
    completed_at: str = ""

    def as_json(self) -> dict[str, Any]:
        """The record as written and sent."""
        return {"kind": "tenant-handover", "version": 1, **asdict(self)}


def handover_for(tenant: ResolvedTenant, stack: str, created_types: Iterable[str],
                 now: dt.datetime | None = None) -> Handover:
    """The record of a tenant whose stack is up; ``created_types``: one type token per resource."""
    record = tenant.record
    return Handover(
        tenant=tenant.id, display_name=record.display_name or tenant.id, tier=str(tenant.tier),
        plan=record.plan, stack=stack, hostname=tenant.hostname, url=f"https://{tenant.hostname}/",
        chatbot_url=public_chatbot_url(tenant.hostname) if record.features.chatbot else None,
        created=dict(sorted(Counter(created_types).items())),
        contacts=tuple(c.model_dump(exclude_none=True) for c in record.contacts),
        completed_at=(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"))


def write(handover: Handover, out: Path) -> Path:
    """Write ``out/handover-<id>.json`` atomically; return its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"handover-{handover.tenant}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(handover.as_json(), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def send(handover: Handover, url: str) -> int:
    """POST the record as JSON; return the HTTP status, or raise :class:`WebhookFailed`."""
    if not url.startswith(("https://", "http://")):
        raise WebhookFailed(f"webhook {url!r} is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=json.dumps(handover.as_json()).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "tenantctl"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise WebhookFailed(f"webhook answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookFailed(f"webhook unreachable: {getattr(exc, 'reason', exc)}") from None

"""A plan diff as people read it: a terminal summary, or Markdown for a pull-request comment."""

from __future__ import annotations

from collections.abc import Sequence

from tenantctl.diff import ACTIONS, PLATFORM, Change, PlanDiff

#: How many changed properties a line lists before it says "+N more".
MAX_PROPERTIES = 6
SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}


def _counts(diff: PlanDiff, changes: Sequence[Change]) -> str:
    counts = diff.counts(changes)
    parts = [f"{counts[a]} to {a}" for a in ACTIONS if counts[a]]
    return ", ".join(parts) or "no changes"


def _properties(change: Change) -> str:
    if change.action not in ("update", "replace"):
        return ""
    shown = list(change.properties[:MAX_PROPERTIES])
    more = len(change.properties) - len(shown)
    text = ", ".join(f"{p} (forces replacement)" if p in change.forced_by else p for p in shown)
    return f": {text}" + (f", +{more} more" if more else "")


def _flags(change: Change) -> str:
    flags = [f for f, on in (("protected", change.protected), ("retained", change.retained)) if on]
    return f" [{', '.join(flags)}]" if flags else ""


def _line(change: Change) -> str:
    head = f"{SYMBOL[change.action]} {change.action} {change.type} {change.name}"
    return head + _flags(change) + _properties(change)


def text(diff: PlanDiff) -> str:
    """The diff for a terminal: per stack, per tenant, one line per change; errors last."""
    lines = [f"diff: {_counts(diff, diff.changes)}"]
    for stack in diff.added_stacks:
        lines.append(f"new stack {stack}")
    for stack in diff.removed_stacks:
        lines.append(f"stack {stack} is gone from the head plan: all its resources would be deleted")
    for stack, changes in diff.by_stack().items():
        lines.append(f"stack {stack}: {_counts(diff, changes)}")
        tenants: dict[str, list[Change]] = {}
        for change in changes:
            tenants.setdefault(change.tenant or PLATFORM, []).append(change)
        for tenant, owned in sorted(tenants.items()):
            lines.append(f"  {tenant}: {_counts(diff, owned)}")
            lines += [f"    {_line(c)}" for c in owned]
    lines += _error_lines(diff)
    return "\n".join(lines)


def _error_lines(diff: PlanDiff) -> list[str]:
    return [f"  [mandatory] data loss: {c.action} of {c.type} {c.name} in {c.stack}"
            f"{_flags(c)}: a protected or retained resource goes only with a recorded offboarding "
            "(`tenantctl offboard --destroy-data`) or migration; Pulumi also deletes it only in an "
            "update after the one that lifted its protection (deploy each recorded phase in turn)"
            for c in diff.errors]


def markdown(diff: PlanDiff) -> str:
    """The diff as a pull-request comment: a summary table, then details per stack."""
    out = ["### tenant-platform plan diff", "",
           f"**{_counts(diff, diff.changes)}**" + (f"; **{len(diff.errors)} data-loss error(s)**"
                                                  if diff.errors else ""), ""]
    if diff.errors:
        out += ["| :x: data loss | stack | resource |", "|---|---|---|"]
        out += [f"| {c.action} | `{c.stack}` | `{c.type}` `{c.name}`{_flags(c)} |" for c in diff.errors]
        out.append("")
    stacks = diff.by_stack()
    if stacks:
        out += ["| stack | tenant | " + " | ".join(ACTIONS) + " |", "|---|---|" + "---:|" * len(ACTIONS)]
        for stack, changes in stacks.items():
            tenants: dict[str, list[Change]] = {}
            for change in changes:
                tenants.setdefault(change.tenant or PLATFORM, []).append(change)
            for tenant, owned in sorted(tenants.items()):
                counts = diff.counts(owned)
                out.append(f"| `{stack}` | {tenant} | " + " | ".join(str(counts[a]) for a in ACTIONS) + " |")
        out.append("")
        for stack, changes in stacks.items():
            out += [f"<details><summary><code>{stack}</code>: {_counts(diff, changes)}</summary>", "",
                    "```diff"]
            out += [_line(c) for c in changes]
            out += ["```", "", "</details>", ""]
    return "\n".join(out)

"""``tenantctl cost``: each tenant's estimated monthly cost beside its plan's list price.

Reads a saved plan (``tenantctl plan`` writes ``out/plan/plan.json``) rather than planning
on the fly: the estimate then prices exactly what was planned and gated, takes a second
rather than minutes, and runs where the registry is not at hand. A missing or invalid
plan, price table or plan table is invalid input (exit 2, one line). A tenant sold below
cost is marked, not an error (exit 0); ``--fail-below-cost`` makes it exit 1, for a CI
job that must not let a plan change sell below cost.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tenantctl import cost, planner
from tenants.plans import load_plans
from tenants.prices import PRICES_FILE, PriceTableInvalid, read_prices
from tenants.problems import RegistryInvalid

DEFAULT_PLAN = Path("out/plan/plan.json")
#: Version of the ``--json`` document (bump when its shape changes).
COST_JSON_VERSION = 1
BELOW_COST = "BELOW COST"
CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT):,.2f}"


def _num(value: Decimal) -> float:
    return float(value.quantize(CENT))


def _tenant_json(t: cost.TenantCost, lines: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"tenant": t.tenant, "stack": t.stack, "region": t.region, "tier": t.tier,
                           "plan": t.plan, "share": round(float(t.share), 6), "cost": _num(t.cost),
                           "listPrice": _num(t.list_price), "margin": _num(t.margin),
                           "belowCost": t.below_cost}
    if lines:
        row["lines"] = [{**tl.line.as_json(), "fraction": round(float(tl.fraction), 6),
                         "tenantCost": round(float(tl.cost), 4)} for tl in t.lines]
    return row


def _prices_json(fleet: cost.FleetCost, path: Path) -> dict[str, Any]:
    p = fleet.prices
    return {"file": str(path), "asOf": p.as_of.isoformat(), "currency": p.currency,
            "regions": sorted(p.regions), "hoursPerMonth": p.hours_per_month, "source": p.source}


def as_json(fleet: cost.FleetCost, prices_path: Path, tenant: str | None) -> dict[str, Any]:
    """The ``--json`` document: tenants (with lines when one is asked for), plans, fleet."""
    chosen = [t for t in fleet.tenants if tenant is None or t.tenant == tenant]
    return {
        "version": COST_JSON_VERSION, "prices": _prices_json(fleet, prices_path),
        "tenants": [_tenant_json(t, lines=tenant is not None) for t in chosen],
        "plans": {name: {k: _num(v) if isinstance(v, Decimal) else v for k, v in row.items()}
                  for name, row in fleet.by_plan().items()},
        "unattributed": {stack: _num(sum((line.cost for line in lines), Decimal(0)))
                         for stack, lines in fleet.unattributed.items()},
        "fleet": {"tenants": len(fleet.tenants), "cost": _num(fleet.total), "revenue": _num(fleet.revenue),
                  "margin": _num(fleet.revenue - fleet.total),
                  "belowCost": sum(t.below_cost for t in fleet.tenants)},
    }


def _print_prices(fleet: cost.FleetCost, path: Path) -> None:
    p = fleet.prices
    print(f"prices: {path} as of {p.as_of.isoformat()}, {p.currency}, {p.hours_per_month} h/month, "
          f"regions {', '.join(sorted(p.regions))} (source and assumptions: docs/cost.md)")


def print_fleet(fleet: cost.FleetCost) -> None:
    """Per tenant, per plan and fleet totals (monthly, the price table's currency)."""
    print(f"{'tenant':24} {'tier':9} {'plan':10} {'stack':26} {'share':>6} {'cost/month':>11} "
          f"{'list':>8} {'margin':>10}")
    for t in fleet.tenants:
        mark = f"  {BELOW_COST}" if t.below_cost else ""
        print(f"{t.tenant:24} {t.tier:9} {t.plan:10} {t.stack:26} {float(t.share):>6.1%} "
              f"{_money(t.cost):>11} {_money(t.list_price):>8} {_money(t.margin):>10}{mark}")
    print(f"\n{'plan':10} {'tenants':>7} {'cost':>11} {'per tenant':>11} {'list':>8} {'revenue':>10} "
          f"{'margin':>10} {'below cost':>10}")
    for name, row in fleet.by_plan().items():
        n = int(row["tenants"])
        list_price = Decimal(row["revenue"]) / n
        print(f"{name:10} {n:>7} {_money(Decimal(row['cost'])):>11} {_money(Decimal(row['cost']) / n):>11} "
              f"{_money(list_price):>8} {_money(Decimal(row['revenue'])):>10} "
              f"{_money(Decimal(row['margin'])):>10} {int(row['belowCost']):>10}")
    for stack, lines in fleet.unattributed.items():
        print(f"unattributed: {stack} has no tenants: "
              f"{_money(sum((line.cost for line in lines), Decimal(0)))} a month charged to nobody")
    below = sum(t.below_cost for t in fleet.tenants)
    print(f"fleet: {len(fleet.tenants)} tenants, cost {_money(fleet.total)}, list revenue "
          f"{_money(fleet.revenue)}, margin {_money(fleet.revenue - fleet.total)}; "
          f"{below} tenant(s) below cost")


def grouped(t: cost.TenantCost) -> list[tuple[str, int, Decimal, str, Decimal, Decimal, Decimal]]:
    """The tenant's lines with equal item, unit, price and part merged (three NAT gateways: one row).

    Rows: (item, how many lines, quantity, unit, unit price, part, cost), costliest first.
    """
    rows: dict[tuple[str, str, Decimal, Decimal], list[cost.TenantLine]] = {}
    for tl in t.lines:
        rows.setdefault((tl.line.item, tl.line.unit, tl.line.unit_price, tl.fraction), []).append(tl)
    out = [(item, len(tls), sum((tl.line.quantity for tl in tls), Decimal(0)), unit, price, part,
            sum((tl.cost for tl in tls), Decimal(0)))
           for (item, unit, price, part), tls in rows.items()]
    return sorted(out, key=lambda row: (-row[6], row[0]))


def print_tenant(t: cost.TenantCost) -> None:
    """One tenant's cost by line item: its own lines in full, its share of the others."""
    print(f"{t.tenant}: {t.tier} tier, plan {t.plan}, stack {t.stack} ({t.region}), "
          f"share of the stack's shared lines {float(t.share):.2%}")
    print(f"  {'item':62} {'quantity':>12} {'unit':15} {'unit price':>10} {'part':>7} {'cost':>9}")
    for item, count, quantity, unit, price, part, amount in grouped(t):
        label = f"{item} (x{count})" if count > 1 else item
        print(f"  {label[:62]:62} {float(quantity):>12,.2f} {unit:15} {float(price):>10.4f} "
              f"{float(part):>7.1%} {_money(amount):>9}")
    mark = f"  {BELOW_COST}" if t.below_cost else ""
    print(f"  total {_money(t.cost)} a month; list price {_money(t.list_price)}; "
          f"margin {_money(t.margin)}{mark}")


def cmd_cost(args: argparse.Namespace) -> int:
    """Estimate every tenant's monthly cost from a saved plan and the price table."""
    plan_path, prices_path = Path(args.plan), Path(args.prices)
    if not plan_path.exists():
        print(f"tenantctl: no plan at {plan_path}: run `tenantctl plan` first, or pass --plan FILE",
              file=sys.stderr)
        return 2
    try:
        stacks = planner.read_plan(plan_path if plan_path.is_file() else plan_path / "plan.json")
        fleet = cost.estimate(stacks, read_prices(prices_path), load_plans())
    except (planner.PlanFormatError, PriceTableInvalid, cost.CostInputError) as exc:
        for line in getattr(exc, "problems", None) or [str(exc)]:
            print(f"tenantctl: {line}", file=sys.stderr)
        return 2
    except RegistryInvalid as exc:  # plans.yaml itself is invalid
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    if args.tenant is not None and args.tenant not in {t.tenant for t in fleet.tenants}:
        print(f"tenantctl: tenant {args.tenant!r} is not in {plan_path} "
              f"(tenants: {', '.join(t.tenant for t in fleet.tenants) or 'none'})", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(as_json(fleet, prices_path, args.tenant), indent=1))
    else:
        _print_prices(fleet, prices_path)
        if args.tenant is not None:
            print_tenant(next(t for t in fleet.tenants if t.tenant == args.tenant))
        else:
            print_fleet(fleet)
    chosen = [t for t in fleet.tenants if args.tenant is None or t.tenant == args.tenant]
    return 1 if args.fail_below_cost and any(t.below_cost for t in chosen) else 0


def add_cost_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``tenantctl cost``."""
    p = sub.add_parser("cost", help="estimate each tenant's monthly cost beside its plan's list price")
    p.add_argument("--plan", default=str(DEFAULT_PLAN),
                   help=f"plan.json written by `tenantctl plan`, or its directory (default {DEFAULT_PLAN})")
    p.add_argument("--prices", default=str(PRICES_FILE), help="price table (default tenants/prices.yaml)")
    p.add_argument("--tenant", help="one tenant's cost by line item")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--fail-below-cost", action="store_true",
                   help="exit 1 when a tenant (the one of --tenant, else any) costs more than its list price")
    p.set_defaults(func=cmd_cost)

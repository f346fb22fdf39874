"""Placement is deterministic, collision-free and stable as tenants come and go."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenants.allocation import CellSlot, PlacementError, Seeker, allocate_cidrs, assign_cells

POOL, PREFIX = "10.128.0.0/12", 18  # 64 blocks: small enough to exercise exhaustion
ids = st.from_regex(r"[a-z][a-z0-9]{2,8}", fullmatch=True)
CELLS = [CellSlot("c1", "ap-northeast-1", 3, True, True),
         CellSlot("c2", "ap-northeast-1", 3, False, True),
         CellSlot("c3", "us-east-1", 50, True, True)]


def _no_overlaps(blocks):
    nets = [ipaddress.IPv4Network(b) for b in blocks]
    return all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


@given(st.lists(st.lists(ids, max_size=6), min_size=1, max_size=8), st.data())
@settings(max_examples=150, deadline=None)
def test_recorded_cidrs_never_move_and_never_collide(batches, data):
    """Onboard batches, offboard some; every recorded block stays put and unique."""
    ledger: dict[str, str] = {}
    for batch in batches:
        new = allocate_cidrs(batch, ledger, POOL, PREFIX, avoid=["10.128.0.0/18"])
        assert set(new) == set(batch) - set(ledger)
        for block in new.values():
            assert ipaddress.IPv4Network(block).subnet_of(ipaddress.IPv4Network(POOL))
        before = dict(ledger)
        ledger.update(new)
        assert all(ledger[t] == b for t, b in before.items())
        assert _no_overlaps([*ledger.values(), "10.128.0.0/18"])
        leaving = (data.draw(st.lists(st.sampled_from(sorted(ledger)), max_size=2, unique=True))
                   if ledger else [])
        for tenant_id in leaving:  # released explicitly after offboarding
            del ledger[tenant_id]


@given(st.sets(ids, max_size=10))
def test_cidr_allocation_is_deterministic_and_order_free(wanting):
    forward = allocate_cidrs(sorted(wanting), {}, POOL, PREFIX)
    backward = allocate_cidrs(sorted(wanting, reverse=True), {}, POOL, PREFIX)
    assert forward == backward


def test_exhausted_pool_is_a_clear_error():
    with pytest.raises(PlacementError, match="has no free /18 left for 'late'"):
        allocate_cidrs(["late"], {"a": "10.0.0.0/17", "b": "10.0.128.0/17"}, "10.0.0.0/16", 18)


seekers = st.lists(st.tuples(ids, st.sampled_from(["ap-northeast-1", "us-east-1"]), st.booleans()),
                   max_size=12, unique_by=lambda t: t[0])


@given(st.lists(seekers, min_size=1, max_size=5))
@settings(max_examples=150, deadline=None)
def test_cells_are_stable_bounded_and_eligible(batches):
    placed: dict[str, str] = {}
    for batch in batches:
        wanted = [Seeker(t, r, pool) for t, r, pool in batch if t not in placed]
        try:
            new = assign_cells(wanted, placed, CELLS)
        except PlacementError:
            continue  # full: nothing placed, nothing moved
        before = dict(placed)
        placed.update(new)
        assert all(placed[t] == c for t, c in before.items())
        for seeker in wanted:
            cell = next(c for c in CELLS if c.name == placed[seeker.tenant_id])
            assert cell.region == seeker.region
            assert cell.dedicated_pools or not seeker.needs_dedicated_pool
        for cell in CELLS:
            assert sum(1 for c in placed.values() if c == cell.name) <= cell.capacity


def test_full_cells_are_a_clear_error():
    placed = {f"t{i}": "c1" for i in range(3)}
    with pytest.raises(PlacementError, match="no cell in ap-northeast-1 has room for 'x' with"):
        assign_cells([Seeker("x", "ap-northeast-1", True)], placed, CELLS)


def test_closed_cells_take_no_new_tenants():
    closed = [CellSlot("dev", "ap-northeast-1", 5, True, False), CELLS[0]]
    assert assign_cells([Seeker("x", "ap-northeast-1", False)], {}, closed) == {"x": "c1"}

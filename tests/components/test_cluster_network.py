"""The VPC layout: three zones of private and public subnets, a function of the CIDR alone."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.network import subnet_layout, subnet_tags

ZONES = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]


@pytest.mark.parametrize(("cidr", "private", "public"), [
    ("10.0.0.0/16", ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"],
     ["10.0.192.0/20", "10.0.208.0/20", "10.0.224.0/20"]),
    ("10.128.0.0/18", ["10.128.0.0/20", "10.128.16.0/20", "10.128.32.0/20"],
     ["10.128.48.0/22", "10.128.52.0/22", "10.128.56.0/22"]),
    ("10.130.16.0/20", ["10.130.16.0/22", "10.130.20.0/22", "10.130.24.0/22"],
     ["10.130.28.0/24", "10.130.29.0/24", "10.130.30.0/24"]),
], ids=["cell-16", "dedicated-18", "smallest-20"])
def test_layout_gives_three_quarters_to_private_subnets(cidr, private, public):
    layout = subnet_layout(cidr, ZONES)
    assert [z.zone for z in layout] == ZONES
    assert [z.private for z in layout] == private
    assert [z.public for z in layout] == public


def test_only_the_first_three_zones_are_used():
    assert [z.zone for z in subnet_layout("10.0.0.0/16", [*ZONES, "ap-northeast-1b"])] == ZONES


@pytest.mark.parametrize(("cidr", "zones", "message"), [
    ("10.0.0.0/15", ZONES, "must be a /16 to /20"),
    ("10.0.0.0/21", ZONES, "must be a /16 to /20"),
    ("10.0.0.0/16", ZONES[:2], "need 3 distinct availability zones"),
    ("10.0.0.0/16", [ZONES[0], ZONES[0], ZONES[1]], "need 3 distinct availability zones"),
], ids=["too-big", "too-small", "two-zones", "repeated-zone"])
def test_layout_refuses_what_cannot_span_three_zones(cidr, zones, message):
    with pytest.raises(ValueError, match=message):
        subnet_layout(cidr, zones)


def test_subnet_tags_place_public_and_internal_load_balancers():
    assert subnet_tags("tp-prod-acme", public=True) == {
        "kubernetes.io/role/elb": "1", "kubernetes.io/cluster/tp-prod-acme": "shared"}
    assert subnet_tags("tp-prod-acme", public=False) == {
        "kubernetes.io/role/internal-elb": "1", "kubernetes.io/cluster/tp-prod-acme": "shared"}


@given(st.integers(min_value=16, max_value=20), st.integers(min_value=0, max_value=2**16 - 1))
@settings(max_examples=200, deadline=None)
def test_subnets_are_disjoint_and_inside_their_vpc(prefix, index):
    vpc = list(ipaddress.IPv4Network("10.0.0.0/8").subnets(new_prefix=prefix))[index % 2 ** (prefix - 8)]
    subnets = [ipaddress.IPv4Network(c) for z in subnet_layout(str(vpc), ZONES)
               for c in (z.private, z.public)]
    assert all(s.subnet_of(vpc) for s in subnets)
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1:])
    # Pods take VPC addresses: each private subnet holds a quarter of the VPC.
    assert {s.num_addresses for s in subnets[0::2]} == {vpc.num_addresses // 4}

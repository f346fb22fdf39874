"""Zone IDs: per region, three distinct ones of that region, none that EKS refuses."""

from __future__ import annotations

import pytest

from tenants.regions import EKS_UNSUPPORTED_ZONE_IDS, zone_id_prefix, zone_problems


@pytest.mark.parametrize(("region", "prefix"), [
    ("ap-northeast-1", "apne1"), ("us-east-1", "use1"), ("eu-west-2", "euw2"), ("ca-central-1", "cac1"),
    ("ap-southeast-2", "apse2"), ("us-gov-west-1", "usgw1"), ("sa-east-1", "sae1"), ("me-south-1", "mes1")])
def test_zone_id_prefix(region, prefix):
    assert zone_id_prefix(region) == prefix


@pytest.mark.parametrize(("region", "zones", "fragment"), [
    ("us-east-1", ["use1-az1", "use1-az3", "use1-az4"], "EKS does not create clusters in use1-az3"),
    ("us-west-1", ["usw1-az1", "usw1-az2", "usw1-az3"], "EKS does not create clusters in usw1-az2"),
    ("ca-central-1", ["cac1-az1", "cac1-az2", "cac1-az3"], "EKS does not create clusters in cac1-az3"),
    ("ap-northeast-1", ["apne1-az1", "apne1-az2", "use1-az4"],
     "'use1-az4' is not a zone ID of ap-northeast-1"),
    ("ap-northeast-1", ["apne1-az1", "apne1-az2"], "exactly 3 distinct zone IDs"),
    ("ap-northeast-1", ["apne1-az1", "apne1-az1", "apne1-az2"], "exactly 3 distinct zone IDs"),
    ("ap-northeast-1", ["apne1-az1", "apne1-az2", "apne1-az4", "apne1-az3"], "exactly 3 distinct zone IDs"),
], ids=["use1-az3", "usw1-az2", "cac1-az3", "other-region", "two", "repeated", "four"])
def test_unusable_zones_are_named(region, zones, fragment):
    assert any(fragment in p for p in zone_problems(region, zones)), zone_problems(region, zones)


def test_usable_zones_pass():
    assert zone_problems("ap-northeast-1", ["apne1-az4", "apne1-az1", "apne1-az2"]) == []


def test_the_eks_exclusions_are_those_of_the_eks_user_guide():
    assert EKS_UNSUPPORTED_ZONE_IDS == {"use1-az3", "usw1-az2", "cac1-az3"}

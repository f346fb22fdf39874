"""Physical names: valid for the system that holds them, and unforgeable from input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenants import naming
from tenants.naming import NameError_, TenantNames


@pytest.mark.parametrize("tenant_id", [
    "a", "ab", "-abc", "abc-", "ABC", "a_b", "a b", "a--b", "x" * 31, "t'; DROP TABLE x; --",
    "robert\"); drop", "tenant\nnext", "default", "kube-system", "ünïcode",
], ids=lambda v: repr(v)[:20])
def test_rejects_bad_tenant_ids(tenant_id):
    with pytest.raises(NameError_):
        naming.validate_tenant_id(tenant_id)


valid_ids = st.from_regex(naming.TENANT_ID_PATTERN, fullmatch=True).filter(
    lambda s: "--" not in s and s not in naming.RESERVED_TENANT_IDS)


@given(valid_ids, st.sampled_from(["prod", "dev", "stg"]))
def test_every_derived_name_fits_its_limits(tenant_id, env):
    names = TenantNames(tenant_id, env)
    assert len(names.namespace) <= 63 and len(names.files_bucket) <= 63
    assert len(names.access_log_bucket) <= 63 and len(names.db_identifier) <= 63
    assert all(len(names.iam_role(w)) <= 64 for w in naming.WORKLOADS)
    assert len(names.db_role) <= 63 and len(names.db_schema) <= 63
    assert names.db_schema.replace("_", "").isalnum() and names.db_role.islower()


def test_names_of_one_tenant():
    names = TenantNames("minato-bank", "prod")
    assert (names.namespace, names.files_bucket, names.iam_role("chatbot"), names.db_schema,
            names.db_role, names.kms_alias("files"), names.cluster) == (
        "tenant-minato-bank", "tp-prod-minato-bank-files", "tp-prod-minato-bank-chatbot",
        "t8ee8f418890cdbddab97", "t8ee8f418890cdbddab97_app", "alias/tp/prod/minato-bank/files",
        "tp-prod-minato-bank")

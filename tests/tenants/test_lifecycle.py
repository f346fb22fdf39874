"""The ``lifecycle`` section: old files still load, new phases are checked, who may lose data."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from tenants.lifecycle import DataDisposition, Lifecycle, State, data_loss_allowed


def test_a_file_written_before_the_destruction_phases_still_loads():
    old = Lifecycle.model_validate({"state": "offboarded", "offboarded_on": "2026-11-30", "data": "kept",
                                    "kept": ["aws:s3/bucket:Bucket alpha-files-storage-files"]})
    assert old.state is State.OFFBOARDED and old.offboarded_on == dt.date(2026, 11, 30)
    assert old.final_snapshot is True and old.destroyed_on is None
    assert not old.releasing_data and not old.data_destroyed


@pytest.mark.parametrize("data", ["destroy", "destroyed"])
def test_only_an_offboarded_tenant_may_record_its_data_destroyed(data):
    for state in ("active", "retiring"):
        with pytest.raises(ValidationError, match="needs state: offboarded"):
            Lifecycle.model_validate({"state": state, "data": data})
    assert Lifecycle.model_validate({"state": "offboarded", "data": data}).data is DataDisposition(data)


def test_unknown_phases_are_refused():
    with pytest.raises(ValidationError):
        Lifecycle.model_validate({"state": "gone"})
    with pytest.raises(ValidationError):
        Lifecycle.model_validate({"state": "offboarded", "data": "shredded"})


def test_data_loss_is_allowed_from_phase_one_on_and_only_for_that_tenant():
    def record(tenant, **fields):
        return SimpleNamespace(id=tenant, lifecycle=Lifecycle.model_validate(fields))

    records = [record("a"), record("b", state="offboarded"), record("c", state="retiring"),
               record("d", state="offboarded", data="destroy"),
               record("e", state="offboarded", data="destroyed")]
    assert data_loss_allowed(records) == {"d", "e"}

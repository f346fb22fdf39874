"""The recording mock engine sees what the real engine would: inputs, options, parents."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from tenantctl.mock_engine import DuplicateResource, run_program
from tenantctl.mock_outputs import UnmockedInvoke


class _Box(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("tenant-platform:test:Box", name)
        self.key = aws.kms.Key(f"{name}-key", enable_key_rotation=True,
                               opts=pulumi.ResourceOptions(parent=self, protect=True,
                                                           retain_on_delete=True))
        aws.secretsmanager.SecretVersion(
            f"{name}-secret", secret_id=self.key.arn, secret_string=pulumi.Output.secret("hunter2"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.key],
                                        ignore_changes=["secretString"]))
        self.register_outputs({})


def test_records_inputs_options_and_parents():
    run = run_program(lambda: _Box("box"), stack="unit")
    key, secret = run.named("box-key"), run.named("box-secret")
    box = run.named("box")
    assert key.urn == "urn:pulumi:unit::tenant-platform::tenant-platform:test:Box$aws:kms/key:Key::box-key"
    assert key.parent == box.urn and box.parent is None
    assert key.inputs == {"enableKeyRotation": True}
    assert key.options["protect"] and key.options["retainOnDelete"]
    assert secret.options["dependsOn"] == [key.urn]
    assert secret.options["ignoreChanges"] == ["secretString"]
    assert secret.inputs["secretString"] == "[secret]"
    assert secret.inputs["secretId"].startswith("arn:aws:kms:")
    assert secret.options["propertyDependencies"] == {"secretId": [key.urn]}


def test_runs_are_isolated_from_each_other():
    first = run_program(lambda: _Box("one"), stack="a")
    second = run_program(lambda: _Box("two"), stack="b")
    assert {r.name for r in first.resources} == {"one", "one-key", "one-secret"}
    assert {r.name for r in second.resources} == {"two", "two-key", "two-secret"}
    assert all(r.urn.startswith("urn:pulumi:b::") for r in second.resources)


def test_duplicate_names_are_rejected():
    def program() -> None:
        aws.kms.Key("same")
        aws.kms.Key("same")

    with pytest.raises(DuplicateResource, match="duplicate resource URN"):
        run_program(program)


def test_unmocked_invokes_fail_loudly():
    def program() -> None:
        aws.ec2.get_vpc_output(default=True).id.apply(lambda v: v)

    with pytest.raises(UnmockedInvoke, match="aws:ec2/getVpc:getVpc"):
        run_program(program)


@pytest.mark.parametrize("leave", ["closed", "none"])
def test_a_program_runs_whatever_event_loop_the_caller_left(leave: str) -> None:
    """After the caller closed its loop, or ran ``asyncio.run`` (which leaves none set)."""
    import asyncio

    if leave == "closed":
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.close()
    else:
        asyncio.run(asyncio.sleep(0))
    run = run_program(lambda: aws.s3.Bucket("logs", bucket="logs"))
    assert [r.name for r in run.resources] == ["logs"]
    assert not asyncio.get_event_loop().is_closed()

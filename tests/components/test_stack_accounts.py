"""Each stack deploys into its own account: one explicit AWS provider, used by everything.

Runs the fixture fleet's stacks (a cell in the platform account, a dedicated tenant in
its own account) under the recording mock, which answers every resource and invoke in
the account and region of the provider it went through, as AWS would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from components.program import build_stack
from tenantctl.mock_engine import ProgramRun, run_program
from tenants import naming
from tenants.loader import load_registry
from tenants.stacks import StackSpec, fleet_stacks

FLEET = Path(__file__).parents[1] / "fixtures" / "fleet"
PROVIDER = "pulumi:providers:aws"
ACCOUNT_IN_ARN = re.compile(r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")
#: Public accounts a stack may name: AWS's own application publisher (the secret rotation
#: function, components.versions.SECRET_ROTATION_APPLICATION).
PUBLIC_ACCOUNTS = {"297356227824"}


def resources_off_the_stack_provider(run: ProgramRun) -> list[str]:
    """AWS resources and data sources that do not go through the stack's one AWS provider."""
    providers = [r.urn for r in run.of_type(PROVIDER)]
    if len(providers) != 1:
        return [f"{len(providers)} aws providers"]
    off = [r.name for r in run.resources
           if r.custom and r.type.startswith("aws:") and r.options["provider"] != providers[0]]
    return off + [f"invoke {i.token}" for i in run.invokes
                  if i.token.startswith("aws:") and i.provider != providers[0]]


@pytest.fixture(scope="module")
def stacks() -> dict[str, tuple[StackSpec, ProgramRun]]:
    specs = fleet_stacks(load_registry(FLEET))
    return {s.kind: (s, run_program(lambda s=s: build_stack(s), stack=s.name)) for s in specs}


@pytest.mark.parametrize("kind", ["shared", "dedicated"])
def test_the_stack_provider_assumes_the_deploy_role_in_the_stacks_account_only(stacks, kind):
    spec, run = stacks[kind]
    [provider] = run.of_type(PROVIDER)
    assert spec.account is not None
    [role] = json.loads(provider.inputs["assumeRoles"])
    assert role["roleArn"] == f"arn:aws:iam::{spec.account}:role/{naming.deploy_role(spec.environment)}"
    assert json.loads(provider.inputs["allowedAccountIds"]) == [spec.account]
    assert provider.inputs["region"] == spec.region


@pytest.mark.parametrize("kind", ["shared", "dedicated"])
def test_every_aws_resource_and_data_source_goes_through_the_stack_provider(stacks, kind):
    _, run = stacks[kind]
    assert [r for r in run.resources if r.type.startswith("aws:")] and run.invokes
    assert resources_off_the_stack_provider(run) == []


def test_a_dedicated_stack_names_no_other_account(stacks):
    spec, run = stacks["dedicated"]
    text = json.dumps([r.inputs for r in run.resources])
    assert set(ACCOUNT_IN_ARN.findall(text)) - PUBLIC_ACCOUNTS == {spec.account}


def test_the_check_catches_a_resource_on_the_default_provider(stacks):
    """Hostile case: one more bucket declared at the top level, outside every component."""
    spec, _ = stacks["dedicated"]

    def program() -> None:
        build_stack(spec)
        aws.s3.BucketV2("stray", bucket="tp-prod-stray")
        aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions())

    run = run_program(program, stack=spec.name)
    assert resources_off_the_stack_provider(run) == [
        "stray", "invoke aws:index/getCallerIdentity:getCallerIdentity"]

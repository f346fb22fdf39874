"""Running the file-server and chatbot stacks under the recording mock, and reading them back."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from components.chatbot import ChatbotStack, ChatbotStackArgs, chatbot_url
from components.fileserver import FileServerStack, FileServerStackArgs
from components.identity import WorkloadIdentity, WorkloadIdentityArgs
from components.program import build_stack
from tenantctl.manifests import is_manifest, manifest
from tenantctl.mock_engine import ProgramRun, RecordedResource, run_program
from tenants.loader import load_registry
from tenants.stacks import fleet_stacks
from tests.components.manifest_checks import as_integers
from tests.conftest import FIXTURE_FLEET
from tests.factories import make_cluster_ref, make_context

REGISTRY = load_registry(FIXTURE_FLEET)
#: Every stack of the fixture fleet (environment ``prod``): a fixed registry with every tier,
#: so that tenants added to (or offboarded from) tenants/registry/ never change these tests.
STACKS = fleet_stacks(REGISTRY)
DB = {"database_endpoint": "tp-prod-cell-apne1-01-db.proxy-abc.ap-northeast-1.rds.amazonaws.com",
      "database_name": "tenants", "database_user": "t_acme_app", "database_schema": "t_acme"}


def run_tenant(tenant_id: str = "acme", tier: str = "namespace", plan: str = "standard", *,
               chatbot: bool = True, fileserver_args: tuple[tuple[str, Any], ...] = (),
               chatbot_args: tuple[tuple[str, Any], ...] = ()) -> ProgramRun:
    """Identities, FileServerStack and (optionally) ChatbotStack of one tenant."""
    return _run(tenant_id, tier, plan, chatbot, fileserver_args, chatbot_args)


@cache
def _run(tenant_id: str, tier: str, plan: str, chatbot: bool, fileserver_args: tuple[tuple[str, Any], ...],
         chatbot_args: tuple[tuple[str, Any], ...]) -> ProgramRun:
    def program() -> None:
        ctx = make_context(tenant_id, tier, plan)
        cluster = make_cluster_ref()
        namespace = ctx.names.namespace
        identities = {w: WorkloadIdentity(f"{tenant_id}-{w}", WorkloadIdentityArgs(
            ctx=ctx, cluster=cluster, workload=w, namespace=namespace))
            for w in (("fileserver", "chatbot") if chatbot else ("fileserver",))}
        files = FileServerStack(f"{tenant_id}-files", FileServerStackArgs(
            ctx=ctx, cluster=cluster, namespace=namespace, identity=identities["fileserver"],
            peer_role_arns=[identities["chatbot"].role.arn] if chatbot else [],
            chatbot_url=chatbot_url(namespace) if chatbot else None, **dict(fileserver_args)))
        if chatbot:
            ChatbotStack(f"{tenant_id}-chat", ChatbotStackArgs(
                ctx=ctx, cluster=cluster, namespace=namespace, identity=identities["chatbot"],
                bucket_name=files.bucket_name, bucket_arn=files.bucket_arn, key_arn=files.key_arn,
                **{**DB, "database_user": f"t_{tenant_id.replace('-', '_')}_app"}, **dict(chatbot_args)))

    return run_program(program)


def obj(resource: RecordedResource) -> dict[str, Any]:
    """A recorded Kubernetes resource as its manifest (integers restored)."""
    assert is_manifest(resource.as_plan()), resource.name
    return as_integers(manifest(resource.as_plan()))


def manifests(run: ProgramRun) -> list[dict[str, Any]]:
    """Every Kubernetes object of a run."""
    return [as_integers(manifest(r.as_plan())) for r in run.resources if is_manifest(r.as_plan())]


def descendants(run: ProgramRun, name: str) -> list[RecordedResource]:
    """Every resource under the component with this logical name."""
    root = run.named(name).urn
    found, frontier = [], [root]
    while frontier:
        children = [r for urn in frontier for r in run.children_of(urn)]
        found += children
        frontier = [c.urn for c in children]
    return found


def trust(run: ProgramRun, workload: str, tenant_id: str = "acme") -> dict[str, Any]:
    """The parsed trust policy of a workload's IRSA role."""
    return json.loads(run.named(f"{tenant_id}-{workload}-role").inputs["assumeRolePolicy"])


def pod(run: ProgramRun, stack: str) -> dict[str, Any]:
    """The pod template spec of a stack's Deployment."""
    return obj(run.named(f"{stack}-workload-deployment"))["spec"]["template"]["spec"]


@cache
def fleet_run(stack_name: str) -> ProgramRun:
    """The real program of one stack of the sample fleet, run once per test session."""
    spec = next(s for s in STACKS if s.name == stack_name)
    return run_program(lambda: build_stack(spec), stack=spec.name)

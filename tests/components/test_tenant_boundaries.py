"""Fleet-wide: no tenant's IAM, bucket or key policy names another tenant's resources.

Runs the real program (``components.program.build_stack``) for every stack of the sample
fleet under the recording mock, then reads every policy document back from the recorded
inputs. Each document is attributed to the tenant that owns what it is attached to (the
role of a role policy, the bucket of a bucket policy, the key of a key policy, the tags of
a role) and must mention no identifier of any other tenant of the fleet: physical names
from ``tenants.naming`` (buckets, roles, namespace, schema, database role, aliases,
secrets, repositories) and the ARNs and ids the run produced for other tenants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tenantctl.mock_engine import ProgramRun, RecordedResource
from tenants.naming import WORKLOADS, TenantNames
from tenants.stacks import StackSpec
from tests.components import policy_lint
from tests.components.stack_checks import REGISTRY, STACKS, fleet_run

TENANTS = sorted(t.id for t in REGISTRY.tenants)
#: Documents the file server and chatbot stacks write (linted with parliament below).
OWN_DOCUMENTS = re.compile(r"-(files|chat)-(permissions|key-key|storage-(files|logs)-policy)$")


@dataclass(frozen=True)
class Document:
    """A policy document found in a run, with the tenant that owns it."""

    resource: str
    kind: str
    owner: str | None
    text: str


def physical_names(tenant_id: str) -> set[str]:
    names = TenantNames(tenant_id, "prod")
    return {names.files_bucket, names.access_log_bucket, names.namespace, names.db_schema, names.db_role,
            names.db_secret, names.prefix, f"alias/tp/prod/{tenant_id}/",
            *(names.iam_role(w) for w in WORKLOADS), *(names.ecr_repository(w) for w in WORKLOADS)}


def _tag_owner(resource: RecordedResource) -> str | None:
    tags = resource.inputs.get("tags") or {}
    return tags.get("tenant") if isinstance(tags, dict) else None


def produced_identifiers(run: ProgramRun) -> dict[str, set[str]]:
    """ARNs, ids and names the run gave each tenant's tagged resources."""
    found: dict[str, set[str]] = {}
    for resource in run.resources:
        owner = _tag_owner(resource)
        if owner is None or not resource.type.startswith("aws:"):
            continue
        values = {resource.outputs.get(k) for k in ("arn", "keyId", "bucket", "name", "id")} | {resource.id}
        found.setdefault(owner, set()).update(v for v in values if isinstance(v, str) and len(v) > 3)
    return found


def documents(run: ProgramRun) -> Iterator[Document]:
    """Every IAM, bucket and key policy document of a run, attributed to its owner."""
    role_owner = {r.inputs.get("name"): _tag_owner(r) for r in run.of_type("aws:iam/role:Role")}
    bucket_owner = {r.inputs.get("bucket"): _tag_owner(r) for r in run.of_type("aws:s3/bucket:Bucket")}
    key_owner = {r.outputs.get("keyId"): _tag_owner(r) for r in run.of_type("aws:kms/key:Key")}
    for r in run.resources:
        if r.type == "aws:iam/role:Role":
            yield Document(r.name, "trust", _tag_owner(r), r.inputs["assumeRolePolicy"])
            for inline in r.inputs.get("inlinePolicies") or []:
                yield Document(r.name, "inline", _tag_owner(r), inline["policy"])
        elif r.type == "aws:iam/rolePolicy:RolePolicy":
            yield Document(r.name, "role-policy", role_owner.get(r.inputs["role"]), r.inputs["policy"])
        elif r.type == "aws:iam/policy:Policy":
            yield Document(r.name, "policy", _tag_owner(r), r.inputs["policy"])
        elif r.type == "aws:s3/bucketPolicy:BucketPolicy":
            yield Document(r.name, "bucket-policy", bucket_owner.get(r.inputs["bucket"]), r.inputs["policy"])
        elif r.type == "aws:kms/key:Key" and r.inputs.get("policy"):
            yield Document(r.name, "key-policy", _tag_owner(r), r.inputs["policy"])
        elif r.type == "aws:kms/keyPolicy:KeyPolicy":
            yield Document(r.name, "key-policy", key_owner.get(r.inputs["keyId"]), r.inputs["policy"])
        elif r.type == "aws:secretsmanager/secretPolicy:SecretPolicy":
            yield Document(r.name, "secret-policy", None, r.inputs["policy"])


def mentions(text: str, identifier: str) -> bool:
    """``identifier`` appears as a whole name (not as part of a longer name)."""
    return re.search(r"(?<![a-z0-9_-])" + re.escape(identifier) + r"(?![a-z0-9_-])", text) is not None \
        if not identifier.endswith("/") else identifier in text


def foreign_mentions(doc: Document, produced: dict[str, set[str]]) -> list[str]:
    """Identifiers of tenants other than the document's owner that the document mentions."""
    assert doc.owner is not None
    return sorted(f"{other}: {ident}" for other in TENANTS if other != doc.owner
                  for ident in physical_names(other) | produced.get(other, set())
                  if mentions(doc.text, ident))


@pytest.mark.parametrize("stack", [s.name for s in STACKS])
def test_no_tenant_policy_names_another_tenants_resources(stack):
    run = fleet_run(stack)
    produced = produced_identifiers(run)
    docs = list(documents(run))
    spec: StackSpec = next(s for s in STACKS if s.name == stack)
    tenant_docs = [d for d in docs if d.owner is not None]
    owners = {d.owner for d in tenant_docs}
    assert owners == {t.id for t in spec.tenants}, "every tenant of the stack has documents"
    unowned = [d.resource for d in docs if d.owner is None
               and any(mentions(d.text, n) for t in TENANTS for n in physical_names(t))]
    assert unowned == [], "a document that names tenant resources must belong to a tenant"
    leaks = {d.resource: foreign_mentions(d, produced) for d in tenant_docs}
    assert {k: v for k, v in leaks.items() if v} == {}


@pytest.mark.parametrize("stack", [s.name for s in STACKS])
def test_every_tenant_document_names_its_own_resources(stack):
    """Attribution is real: the file and chatbot documents, attributed by what they are
    attached to (role, bucket, key), mention something of that tenant. (Other tenant-tagged
    documents, such as a dedicated cluster's add-on roles, may name only shared things.)"""
    run = fleet_run(stack)
    produced = produced_identifiers(run)
    for doc in documents(run):
        if OWN_DOCUMENTS.search(doc.resource):
            assert doc.owner is not None, doc.resource
            own = physical_names(doc.owner) | produced.get(doc.owner, set())
            assert any(mentions(doc.text, i) for i in own), doc.resource


@pytest.mark.parametrize("stack", [s.name for s in STACKS])
def test_file_and_chatbot_documents_pass_parliament_and_grant_no_wildcards(stack):
    run = fleet_run(stack)
    checked = 0
    for doc in documents(run):
        if not OWN_DOCUMENTS.search(doc.resource):
            continue
        checked += 1
        key = None
        if doc.kind == "key-policy":
            key_resource = run.named(doc.resource)
            alias = TenantNames(doc.owner or "", "prod").kms_alias("files")
            key = [key_resource.outputs["arn"], key_resource.outputs["arn"].split(":key/")[0] + ":" + alias]
        assert policy_lint.findings(doc.text, key_resources=key) == [], doc.resource
        assert policy_lint.allow_wildcards(doc.text) == [], doc.resource
    stacks = len(run.of_type("tenant-platform:index:FileServerStack"))
    chats = len(run.of_type("tenant-platform:index:ChatbotStack"))
    assert stacks > 0 or not run.of_type("tenant-platform:index:TenantNamespace")
    spec = next(s for s in STACKS if s.name == stack)
    assert chats == sum(t.record.features.chatbot for t in spec.tenants)
    assert checked == 4 * stacks + chats  # role policy, key policy, two bucket policies; role policy


@pytest.mark.parametrize("stack", [s.name for s in STACKS])
def test_stacks_follow_the_registrys_feature_flags(stack):
    run = fleet_run(stack)
    spec = next(s for s in STACKS if s.name == stack)

    def declared(type_: str, suffix: str) -> set[str]:
        return {r.name.removesuffix(suffix) for r in run.of_type(f"tenant-platform:index:{type_}")}

    features = {t.id: t.record.features for t in spec.tenants}
    assert declared("FileServerStack", "-files") == {t for t, f in features.items() if f.fileserver}
    assert declared("ChatbotStack", "-chat") == {t for t, f in features.items() if f.chatbot}
    assert declared("TenantMonitoring", "-monitoring") == declared("FileServerStack", "-files")
    for tenant, flags in features.items():
        if flags.fileserver:
            rules = run.named(f"{tenant}-monitoring-alerts").inputs["spec"]["groups"][0]["rules"]
            assert any("Chatbot" in r["alert"] for r in rules) == flags.chatbot


def test_checker_catches_a_seeded_cross_tenant_reference():
    run = fleet_run("shared-f1")
    produced = produced_identifiers(run)
    victim = TenantNames("anvil", "prod")
    bad = Document("seeded", "role-policy", "alpha", json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                "Resource": f"arn:aws:s3:::{victim.files_bucket}/*"}]}))
    assert foreign_mentions(bad, produced) == [f"anvil: arn:aws:s3:::{victim.files_bucket}",
                                               f"anvil: {victim.files_bucket}"]
    key_arn = next(iter(i for i in produced["anvil"] if i.startswith("arn:aws:kms:")))
    by_arn = Document("seeded", "key-policy", "alpha", json.dumps({"Resource": key_arn}))
    assert f"anvil: {key_arn}" in foreign_mentions(by_arn, produced)


def test_names_are_not_mistaken_across_similar_ids():
    assert mentions('"arn:aws:s3:::tp-prod-acme-files/*"', "tp-prod-acme-files")
    assert not mentions('"arn:aws:s3:::tp-prod-acme-files-old/*"', "tp-prod-acme-files")
    assert not mentions('"tp-prod-big-acme-files"', "tp-prod-acme-files")

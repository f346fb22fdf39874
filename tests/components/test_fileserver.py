"""FileServerStack under the recording mock: storage, workload, permissions, ingress."""

from __future__ import annotations

import json

import pytest

from components import iam_documents as docs
from tenants.naming import platform_admin_role
from tests.components import manifest_checks, policy_lint
from tests.components.stack_checks import descendants, manifests, obj, pod, run_tenant, trust
from tests.factories import ACCOUNT_ID, OIDC_ISSUER, TEST_IMAGES

TIERS = ["namespace", "node", "vcluster", "cluster"]
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/tp-prod-acme-fileserver"
CHATBOT_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/tp-prod-acme-chatbot"
BUCKET = "arn:aws:s3:::tp-prod-acme-files"
KEY = f"arn:aws:kms:ap-northeast-1:{ACCOUNT_ID}:key/key-acme-files-key-key"


@pytest.fixture(scope="module")
def run():
    return run_tenant()


def test_stack_declares_exactly_its_storage_workload_permissions_and_ingress(run):
    assert sorted((r.type, r.name) for r in descendants(run, "acme-files")) == sorted([
        ("tenant-platform:index:TenantKey", "acme-files-key"),
        ("aws:kms/key:Key", "acme-files-key-key"),
        ("aws:kms/alias:Alias", "acme-files-key-alias"),
        ("tenant-platform:index:TenantBucket", "acme-files-storage"),
        *[(f"aws:s3/{t}", f"acme-files-storage-{b}-{role}") for b in ("files", "logs") for t, role in (
            ("bucketOwnershipControls:BucketOwnershipControls", "ownership"),
            ("bucketPublicAccessBlock:BucketPublicAccessBlock", "public-access-block"),
            ("bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "encryption"),
            ("bucketVersioning:BucketVersioning", "versioning"),
            ("bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lifecycle"),
            ("bucketPolicy:BucketPolicy", "policy"))],
        ("aws:s3/bucket:Bucket", "acme-files-storage-files"),
        ("aws:s3/bucket:Bucket", "acme-files-storage-logs"),
        ("aws:s3/bucketLogging:BucketLogging", "acme-files-storage-files-logging"),
        ("aws:iam/rolePolicy:RolePolicy", "acme-files-permissions"),
        ("tenant-platform:index:TenantWorkload", "acme-files-workload"),
        ("aws:ecr/repository:Repository", "acme-files-workload-repository"),
        ("pulumi-python:dynamic/tenant-platform:ReleasedImage", "acme-files-workload-image"),
        ("kubernetes:core/v1:ConfigMap", "acme-files-workload-config"),
        ("kubernetes:apps/v1:Deployment", "acme-files-workload-deployment"),
        ("kubernetes:core/v1:Service", "acme-files-workload-service"),
        ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "acme-files-workload-autoscaler"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "acme-files-workload-disruption-budget"),
        ("kubernetes:cert-manager.io/v1:Certificate", "acme-files-certificate"),
        ("kubernetes:networking.istio.io/v1:Gateway", "acme-files-gateway"),
        ("kubernetes:networking.istio.io/v1:VirtualService", "acme-files-route"),
    ])


@pytest.mark.parametrize("tier", TIERS)
def test_every_manifest_validates_strictly(tier):
    objects = manifests(run_tenant(tier=tier))
    assert {o["kind"] for o in objects} >= {"Deployment", "Service", "HorizontalPodAutoscaler",
                                            "PodDisruptionBudget", "ConfigMap", "ServiceAccount",
                                            "Certificate", "Gateway", "VirtualService"}
    for manifest in objects:
        manifest_checks.validate(manifest)


def test_crd_shape_check_catches_mistakes(run):
    gateway = obj(run.named("acme-files-gateway"))
    gateway["spec"]["servers"][0]["tls"]["mode"] = "STRICT"
    with pytest.raises(Exception, match="STRICT"):
        manifest_checks.validate(gateway)
    route = obj(run.named("acme-files-route"))
    route["spec"]["http"][0]["rout"] = route["spec"]["http"][0].pop("route")
    with pytest.raises(Exception, match="rout"):
        manifest_checks.validate(route)


def test_workload_runs_restricted_with_plan_resources_and_its_own_account(run):
    spec = pod(run, "acme-files")
    (container,) = spec["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}}
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "512Mi"},
        "limits": {"cpu": "500m", "memory": "1024Mi", "ephemeral-storage": "1024Mi"}}
    assert spec["serviceAccountName"] == "fileserver"
    assert spec["automountServiceAccountToken"] is False
    hpa = obj(run.named("acme-files-workload-autoscaler"))["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)  # standard plan


def test_irsa_trust_names_exactly_the_fileserver_account_in_the_tenant_namespace(run):
    (statement,) = trust(run, "fileserver")["Statement"]
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{OIDC_ISSUER}"}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {"StringEquals": {
        f"{OIDC_ISSUER}:sub": "system:serviceaccount:tenant-acme:fileserver",
        f"{OIDC_ISSUER}:aud": "sts.amazonaws.com"}}
    account = obj(run.named("acme-fileserver-sa"))
    assert account["metadata"]["name"] == pod(run, "acme-files")["serviceAccountName"]
    assert account["metadata"]["namespace"] == "tenant-acme"


def test_role_may_only_use_the_tenants_files_and_key(run):
    permissions = run.named("acme-files-permissions").inputs
    assert permissions["role"] == "tp-prod-acme-fileserver"
    policy = json.loads(permissions["policy"])
    assert policy == docs.fileserver_policy(bucket=BUCKET, key_arn=KEY, region="ap-northeast-1")
    assert policy_lint.allow_wildcards(policy) == []
    assert policy_lint.findings(policy) == []
    assert policy_lint.arns_in(policy) == {BUCKET, f"{BUCKET}/files/*", KEY}


def test_bucket_is_private_versioned_encrypted_with_the_tenant_key_and_logged(run):
    bucket = run.named("acme-files-storage-files")
    assert bucket.inputs["bucket"] == "tp-prod-acme-files"
    assert bucket.inputs["tags"]["tenant"] == "acme"
    assert (bucket.options["protect"], bucket.options["retainOnDelete"]) == (True, True)
    block = run.named("acme-files-storage-files-public-access-block").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    (rule,) = run.named("acme-files-storage-files-encryption").inputs["rules"]
    assert rule == {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY},
                    "bucketKeyEnabled": True}
    assert run.named("acme-files-storage-files-versioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"}
    logging = run.named("acme-files-storage-files-logging").inputs
    assert (logging["bucket"], logging["targetBucket"], logging["targetPrefix"]) == (
        "tp-prod-acme-files", "tp-prod-acme-logs", "s3-access/files/")
    ownership = run.named("acme-files-storage-files-ownership").inputs["rule"]
    assert ownership == {"objectOwnership": "BucketOwnerEnforced"}
    (lifecycle,) = run.named("acme-files-storage-files-lifecycle").inputs["rules"]
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 14}  # standard's retention


def test_bucket_policy_admits_only_the_tenants_roles_and_lets_the_deployer_read_the_bucket(run):
    """Issue 12.3: the platform admin role (``pulumi up``) may HeadBucket (s3:ListBucket), no object."""
    policy = json.loads(run.named("acme-files-storage-files-policy").inputs["policy"])
    deployer = f"arn:aws:iam::{ACCOUNT_ID}:role/{platform_admin_role('prod')}"
    assert policy == docs.files_bucket_policy(
        bucket=BUCKET, key_arn=KEY, tenant_role_arns=[ROLE, CHATBOT_ROLE], deployer_role_arn=deployer)
    statements = {s["Sid"]: s for s in policy["Statement"]}
    listing = statements["DenyListingOutsideTenantAndDeployer"]
    assert deployer in listing["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    objects = statements["DenyDataAccessOutsideTenant"]
    assert deployer not in objects["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert "s3:GetObject" in objects["Action"] and "s3:ListBucket" not in objects["Action"]
    assert policy_lint.findings(policy) == []


def test_log_bucket_is_private_and_only_receives_this_buckets_logs(run):
    logs = run.named("acme-files-storage-logs")
    assert (logs.options["protect"], logs.options["retainOnDelete"]) == (True, True)
    assert logs.inputs["tags"]["purpose"] == "access-logs"
    block = run.named("acme-files-storage-logs-public-access-block").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    policy = json.loads(run.named("acme-files-storage-logs-policy").inputs["policy"])
    assert policy == docs.access_log_bucket_policy(log_bucket="arn:aws:s3:::tp-prod-acme-logs",
                                                   source_bucket=BUCKET, account_id=ACCOUNT_ID)


def test_bucket_configuration_survives_removal_so_a_retained_bucket_stays_locked(run):
    config = [r for r in descendants(run, "acme-files-storage") if r.type.startswith("aws:s3/bucket")
              and r.type != "aws:s3/bucket:Bucket"]
    assert len(config) == 13
    assert all(r.options["retainOnDelete"] for r in config)
    policy = run.named("acme-files-storage-files-policy")
    block = "::acme-files-storage-files-public-access-block"
    assert any(u.endswith(block) for u in policy.options["dependsOn"])


def test_key_rotates_is_retained_and_is_used_only_by_tenant_roles(run):
    key = run.named("acme-files-key-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["bypassPolicyLockoutSafetyCheck"] is False
    assert (key.options["protect"], key.options["retainOnDelete"]) == (True, True)
    assert key.inputs["tags"]["tenant"] == "acme"
    policy = json.loads(key.inputs["policy"])
    assert policy == docs.tenant_key_policy(
        partition="aws", account_id=ACCOUNT_ID, region="ap-northeast-1",
        tenant_role_arns=[ROLE, CHATBOT_ROLE],
        admin_role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{platform_admin_role('prod')}")
    assert run.named("acme-files-key-alias").inputs["name"] == "alias/tp/prod/acme/files"


def test_image_is_pinned_in_the_tenants_scanned_immutable_repository(run):
    repository = run.named("acme-files-workload-repository").inputs
    assert repository["name"] == "tp-prod-acme/fileserver"
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    (container,) = pod(run, "acme-files")["containers"]
    digest = TEST_IMAGES["fileserver"]
    registry = f"{ACCOUNT_ID}.dkr.ecr.ap-northeast-1.amazonaws.com"
    assert container["image"] == f"{registry}/tp-prod-acme/fileserver@{digest}"
    template = obj(run.named("acme-files-workload-deployment"))["spec"]["template"]
    assert template["metadata"]["labels"]["isolation.tenant-platform.io/code"] == "platform"


def test_given_image_replaces_the_repository():
    image = "registry.example/fileserver@sha256:" + "b" * 64
    run = run_tenant(fileserver_args=(("image", image),))
    assert "acme-files-workload-repository" not in {r.name for r in run.resources}
    assert "acme-chat-workload-repository" in {r.name for r in run.resources}
    (container,) = pod(run, "acme-files")["containers"]
    assert container["image"] == image
    template = obj(run.named("acme-files-workload-deployment"))["spec"]["template"]
    assert "isolation.tenant-platform.io/code" not in template["metadata"]["labels"]  # not platform code


def test_unpinned_image_is_refused():
    with pytest.raises(Exception, match="pinned by digest"):
        run_tenant(fileserver_args=(("image", "fileserver:latest"),))


def test_configuration_says_where_the_files_are_and_holds_no_secret(run):
    data = obj(run.named("acme-files-workload-config"))["data"]
    assert data == {"FILES_BUCKET": "tp-prod-acme-files", "FILES_PREFIX": "files/", "FILES_KMS_KEY_ARN": KEY,
                    "AWS_REGION": "ap-northeast-1", "PORT": "8080", "METRICS_PORT": "9090",
                    "PUBLIC_URL": "https://acme.files.example.com", "TMPDIR": "/tmp",
                    "CHATBOT_URL": "http://chatbot.tenant-acme.svc.cluster.local:8080"}


def test_host_is_routed_through_a_platform_gateway_bound_to_the_tenant_namespace(run):
    certificate = obj(run.named("acme-files-certificate"))
    gateway = obj(run.named("acme-files-gateway"))
    route = obj(run.named("acme-files-route"))
    platform = {"app.kubernetes.io/managed-by": "tenant-platform", "tenant-platform.io/for-tenant": "acme"}
    for owned in (certificate, gateway):
        assert owned["metadata"]["namespace"] == "istio-ingress"
        assert owned["metadata"]["labels"] == platform  # no "tenant": not an object of the tenant
    assert certificate["spec"]["dnsNames"] == ["acme.files.example.com"]
    assert certificate["spec"]["secretName"] == "tenant-acme-tls"
    assert certificate["spec"]["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer",
                                                "name": "letsencrypt-dns01"}
    https, http = gateway["spec"]["servers"]
    assert https["hosts"] == http["hosts"] == ["tenant-acme/acme.files.example.com"]
    assert https["tls"] == {"mode": "SIMPLE", "credentialName": "tenant-acme-tls",
                            "minProtocolVersion": "TLSV1_2"}
    assert http["tls"] == {"httpsRedirect": True}
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}
    assert route["metadata"]["namespace"] == "tenant-acme"
    assert route["metadata"]["labels"]["tenant"] == "acme"
    assert route["spec"]["hosts"] == ["acme.files.example.com"]
    assert route["spec"]["gateways"] == ["istio-ingress/tenant-acme"]
    (http_route,) = route["spec"]["http"]
    assert http_route["route"] == [{"destination": {"host": "fileserver.tenant-acme.svc.cluster.local",
                                                    "port": {"number": 8080}}}]


def test_every_kubernetes_object_uses_the_cluster_provider(run):
    provider = run.of_type("pulumi:providers:kubernetes")[0].urn
    k8s_objects = [r for r in descendants(run, "acme-files") if r.type.startswith("kubernetes:")]
    assert k8s_objects and all(r.options["provider"] == provider for r in k8s_objects)


def test_tenant_objects_carry_the_tenant_labels_and_tags(run):
    for resource in descendants(run, "acme-files"):
        if resource.type.startswith("kubernetes:") and resource.name not in ("acme-files-certificate",
                                                                             "acme-files-gateway"):
            labels = resource.inputs["metadata"]["labels"]
            assert {"tenant": "acme", "tier": "namespace", "plan": "standard"}.items() <= labels.items()
            assert resource.inputs["metadata"]["namespace"] == "tenant-acme"
        if resource.type in ("aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:ecr/repository:Repository"):
            assert {"tenant": "acme", "tier": "namespace", "plan": "standard"}.items() <= resource.inputs[
                "tags"].items()


@pytest.mark.parametrize("tier", TIERS)
def test_same_stack_in_every_tier_and_in_a_dedicated_cluster(tier):
    run = run_tenant(tier=tier)
    names = sorted(r.name for r in descendants(run, "acme-files"))
    assert names == sorted(r.name for r in descendants(run_tenant(), "acme-files"))
    placement = {k: v for k, v in pod(run, "acme-files").items() if k in ("nodeSelector", "tolerations")}
    pool = {"nodeSelector": {"tenant": "acme"}, "tolerations": [
        {"key": "tenant", "operator": "Equal", "value": "acme", "effect": "NoSchedule"}]}
    assert placement == (pool if tier == "node" else {})


def test_without_a_chatbot_only_the_fileserver_role_reaches_the_files():
    run = run_tenant(chatbot=False)
    key_policy = json.loads(run.named("acme-files-key-key").inputs["policy"])
    assert key_policy["Statement"][1]["Principal"] == {"AWS": [ROLE]}
    bucket_policy = json.loads(run.named("acme-files-storage-files-policy").inputs["policy"])
    assert CHATBOT_ROLE not in json.dumps(bucket_policy)
    assert "CHATBOT_URL" not in obj(run.named("acme-files-workload-config"))["data"]


def test_cache_volume_option_adds_an_encrypted_ephemeral_claim():
    run = run_tenant(plan="enterprise", fileserver_args=(("cache_size", "5Gi"),))
    volumes = {v["name"]: v for v in pod(run, "acme-files")["volumes"]}
    assert volumes["cache"]["ephemeral"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "gp3-encrypted"
    assert obj(run.named("acme-files-workload-config"))["data"]["CACHE_DIR"] == "/var/cache/app"

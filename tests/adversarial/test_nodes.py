"""Node, namespace and attribution mutations (ISO-NODE-*, ISO-NS-01/02, ISO-META-*).

Where a pod may run (its pool, its node's metadata service, SSH into the node), which
namespace an object lands in and what that namespace enforces, and whether the labels
that decide which rules apply tell the truth. Each mutation is one careless change to the
fixture fleet's plan; the node-tier tenant ``bravo`` has the cell's only dedicated pool.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.adversarial.harness import (
    DEDICATED_STACK,
    DEDICATED_TENANT,
    NODE_TENANT,
    OTHER,
    TENANT,
    Mutation,
    Resource,
    Resources,
    add,
    assert_check_fails,
    find,
    mutation,
)
from tests.adversarial.workloads import clone_as, files_deployment, pod_spec

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NAMESPACE = "kubernetes:core/v1:Namespace"
PSA = "pod-security.kubernetes.io/"


def pool(resources: Resources) -> Resource:
    """bravo's dedicated node group."""
    return find(resources, NODE_GROUP, f"{NODE_TENANT}-pool-nodes-node-group")


def pool_template(resources: Resources) -> Resource:
    """The launch template of bravo's pool."""
    return find(resources, LAUNCH_TEMPLATE, f"{NODE_TENANT}-pool-nodes-launch-template")


def tenant_namespace(resources: Resources, tenant: str = TENANT) -> Resource:
    """A tenant's Namespace object."""
    return find(resources, NAMESPACE, f"{tenant}-namespace")


def _culprit(resource: Resource) -> str:
    return str(resource["name"])


# --- ISO-NODE-01: the dedicated pool's taint and label ------------------------------------
@mutation("ISO-NODE-01")
def dedicated_pool_without_taint(resources: Resources) -> str:
    group = pool(resources)
    group["inputs"]["taints"] = []
    return _culprit(group)


@mutation("ISO-NODE-01")
def dedicated_pool_taint_only_preferred(resources: Resources) -> str:
    group = pool(resources)
    group["inputs"]["taints"][0]["effect"] = "PREFER_NO_SCHEDULE"
    return _culprit(group)


@mutation("ISO-NODE-01")
def dedicated_pool_tainted_for_another_tenant(resources: Resources) -> str:
    group = pool(resources)
    group["inputs"]["taints"][0]["value"] = TENANT
    return _culprit(group)


@mutation("ISO-NODE-01")
def dedicated_pool_without_label(resources: Resources) -> str:
    group = pool(resources)
    del group["inputs"]["labels"]
    return _culprit(group)


@mutation("ISO-NODE-01")
def shared_pool_labelled_for_the_node_tenant(resources: Resources) -> str:
    group = find(resources, NODE_GROUP, "tp-prod-cell-f1-workload-node-group")
    group["inputs"]["labels"]["tenant"] = NODE_TENANT   # bravo's pods would land on shared nodes
    return _culprit(group)


# --- ISO-NODE-02: pods stay on their own pool ----------------------------------------------
@mutation("ISO-NODE-02")
def keyless_exists_toleration(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["tolerations"] = [{"operator": "Exists"}]
    return _culprit(dep)


@mutation("ISO-NODE-02")
def namespace_tier_pod_joins_the_dedicated_pool(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["nodeSelector"] = {"tenant": NODE_TENANT}
    pod_spec(dep)["tolerations"] = [{"key": "tenant", "operator": "Equal", "value": NODE_TENANT,
                                     "effect": "NoSchedule"}]
    return _culprit(dep)


@mutation("ISO-NODE-02")
def node_tier_pod_selects_another_tenants_pool(resources: Resources) -> str:
    dep = files_deployment(resources, NODE_TENANT)
    pod_spec(dep)["nodeSelector"] = {"tenant": OTHER}
    return _culprit(dep)


@mutation("ISO-NODE-02")
def node_tier_pod_loses_its_selector(resources: Resources) -> str:
    dep = files_deployment(resources, NODE_TENANT)
    del pod_spec(dep)["nodeSelector"]
    return _culprit(dep)


@mutation("ISO-NODE-02")
def node_tier_pod_tolerates_every_tenant_pool(resources: Resources) -> str:
    dep = files_deployment(resources, NODE_TENANT)
    pod_spec(dep)["tolerations"] = [{"key": "tenant", "operator": "Exists", "effect": "NoSchedule"}]
    return _culprit(dep)


@mutation("ISO-NODE-02")
def tenant_pod_tolerates_the_system_pool(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["tolerations"] = [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
    return _culprit(dep)


@mutation("ISO-NODE-02")
def pod_bound_to_a_node_by_name(resources: Resources) -> str:
    job = clone_as(resources, "Job", "alpha-pinned-import")
    pod_spec(job)["nodeName"] = "ip-10-0-1-23.ap-northeast-1.compute.internal"
    return _culprit(job)


@mutation("ISO-NODE-02")
def dedicated_pool_removed(resources: Resources) -> str:
    group = pool(resources)
    resources.remove(group)
    return _culprit(files_deployment(resources, NODE_TENANT))


# --- ISO-NODE-03: instance metadata --------------------------------------------------------
@mutation("ISO-NODE-03")
def imds_tokens_optional(resources: Resources) -> str:
    lt = pool_template(resources)
    lt["inputs"]["metadataOptions"]["httpTokens"] = "optional"
    return _culprit(lt)


@mutation("ISO-NODE-03")
def imds_hop_limit_two(resources: Resources) -> str:
    lt = find(resources, LAUNCH_TEMPLATE, "tp-prod-cell-f1-workload-launch-template")
    lt["inputs"]["metadataOptions"]["httpPutResponseHopLimit"] = 2
    return _culprit(lt)


@mutation("ISO-NODE-03")
def metadata_options_dropped(resources: Resources) -> str:
    lt = pool_template(resources)
    del lt["inputs"]["metadataOptions"]
    return _culprit(lt)


@mutation("ISO-NODE-03")
def node_group_on_the_eks_default_launch_template(resources: Resources) -> str:
    group = pool(resources)
    del group["inputs"]["launchTemplate"]
    return _culprit(group)


@mutation("ISO-NODE-03", stack=DEDICATED_STACK)
def dedicated_cluster_hop_limit_two(resources: Resources) -> str:
    lt = find(resources, LAUNCH_TEMPLATE, "tp-prod-delta-workload-launch-template")
    lt["inputs"]["metadataOptions"]["httpPutResponseHopLimit"] = 2
    return _culprit(lt)


# --- ISO-NODE-04: the node role ------------------------------------------------------------
@mutation("ISO-NODE-04")
def admin_policy_on_the_node_role(resources: Resources) -> str:
    attachment = find(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                      "tp-prod-cell-f1-node-role-AmazonSSMManagedInstanceCore")
    return add(resources, attachment, attachment["type"], "tp-prod-cell-f1-node-role-admin", {
        "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
        "role": attachment["inputs"]["role"]})


@mutation("ISO-NODE-04")
def cni_policy_back_on_the_node_role(resources: Resources) -> str:
    attachment = find(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                      "tp-prod-cell-f1-node-role-AmazonSSMManagedInstanceCore")
    attachment["inputs"]["policyArn"] = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
    return _culprit(attachment)


@mutation("ISO-NODE-04")
def vpc_cni_without_its_own_identity(resources: Resources) -> str:
    addon = find(resources, "aws:eks/addon:Addon", "tp-prod-cell-f1-addon-vpc-cni")
    del addon["inputs"]["serviceAccountRoleArn"]
    return _culprit(addon)


# --- ISO-NODE-05: SSH ----------------------------------------------------------------------
@mutation("ISO-NODE-05")
def ssh_remote_access_on_the_pool(resources: Resources) -> str:
    group = pool(resources)
    group["inputs"]["remoteAccess"] = {"ec2SshKey": "ops-break-glass"}
    return _culprit(group)


@mutation("ISO-NODE-05")
def key_pair_on_the_launch_template(resources: Resources) -> str:
    lt = pool_template(resources)
    lt["inputs"]["keyName"] = "ops-break-glass"
    return _culprit(lt)


# --- ISO-NODE-06: node network and disks ---------------------------------------------------
@mutation("ISO-NODE-06")
def nodes_get_public_ips(resources: Resources) -> str:
    lt = pool_template(resources)
    lt["inputs"]["networkInterfaces"] = [{"associatePublicIpAddress": "true", "deviceIndex": 0}]
    return _culprit(lt)


@mutation("ISO-NODE-06")
def node_volume_unencrypted(resources: Resources) -> str:
    lt = pool_template(resources)
    lt["inputs"]["blockDeviceMappings"][0]["ebs"]["encrypted"] = "false"
    return _culprit(lt)


@mutation("ISO-NODE-06")
def node_volume_on_the_aws_managed_key(resources: Resources) -> str:
    lt = pool_template(resources)
    del lt["inputs"]["blockDeviceMappings"][0]["ebs"]["kmsKeyId"]
    return _culprit(lt)


@mutation("ISO-NODE-06")
def private_subnet_maps_public_ips(resources: Resources) -> str:
    subnet = find(resources, "aws:ec2/subnet:Subnet", "tp-prod-cell-f1-private-ap-northeast-1a")
    subnet["inputs"]["mapPublicIpOnLaunch"] = True
    return _culprit(subnet)


# --- ISO-NODE-07 (medium, advisory by design): sandboxing tenant code ----------------------
@mutation("ISO-NODE-07")
def tenant_built_image_without_sandbox(resources: Resources) -> str:
    dep = files_deployment(resources)
    del dep["inputs"]["spec"]["template"]["metadata"]["labels"]["isolation.tenant-platform.io/code"]
    return _culprit(dep)


# --- ISO-NS-01: where objects live ---------------------------------------------------------
def _move(resources: Resources, namespace: str | None) -> str:
    dep = files_deployment(resources)
    if namespace is None:
        del dep["inputs"]["metadata"]["namespace"]
    else:
        dep["inputs"]["metadata"]["namespace"] = namespace
    return _culprit(dep)


@mutation("ISO-NS-01")
def workload_moved_to_default(resources: Resources) -> str:
    return _move(resources, "default")


@mutation("ISO-NS-01")
def workload_moved_to_kube_system(resources: Resources) -> str:
    return _move(resources, "kube-system")


@mutation("ISO-NS-01")
def workload_moved_to_another_tenants_namespace(resources: Resources) -> str:
    return _move(resources, f"tenant-{OTHER}")


@mutation("ISO-NS-01")
def workload_namespace_dropped(resources: Resources) -> str:
    return _move(resources, None)


@mutation("ISO-NS-01")
def service_account_moved_to_kube_public(resources: Resources) -> str:
    sa = find(resources, "kubernetes:core/v1:ServiceAccount", f"{TENANT}-fileserver-sa")
    sa["inputs"]["metadata"]["namespace"] = "kube-public"
    return _culprit(sa)


@mutation("ISO-NS-01")
def unlabelled_copy_lands_in_default(resources: Resources) -> str:
    job = clone_as(resources, "Job", "alpha-migrate-copied-from-a-runbook")
    job["inputs"]["metadata"] = {"name": "migrate"}   # no labels, no namespace: 'default'
    job["inputs"]["spec"]["template"]["metadata"] = {}
    return _culprit(job)


@mutation("ISO-NS-01")
def tenant_namespace_renamed(resources: Resources) -> str:
    ns = tenant_namespace(resources)
    ns["inputs"]["metadata"]["name"] = "alpha-files"
    return _culprit(ns)


# --- ISO-NS-02: Pod Security admission -----------------------------------------------------
def _psa(resources: Resources, key: str, value: str | None, tenant: str = TENANT) -> str:
    ns = tenant_namespace(resources, tenant)
    labels = ns["inputs"]["metadata"]["labels"]
    if value is None:
        del labels[PSA + key]
    else:
        labels[PSA + key] = value
    return _culprit(ns)


@mutation("ISO-NS-02")
def psa_enforce_baseline(resources: Resources) -> str:
    return _psa(resources, "enforce", "baseline")


@mutation("ISO-NS-02")
def psa_enforce_removed(resources: Resources) -> str:
    return _psa(resources, "enforce", None, NODE_TENANT)


@mutation("ISO-NS-02")
def psa_version_latest(resources: Resources) -> str:
    return _psa(resources, "enforce-version", "latest")


@mutation("ISO-NS-02")
def psa_audit_privileged(resources: Resources) -> str:
    return _psa(resources, "audit", "privileged")


@mutation("ISO-NS-02")
def psa_warn_removed(resources: Resources) -> str:
    return _psa(resources, "warn", None)


@mutation("ISO-NS-02")
def psa_relaxed_by_namespace_patch(resources: Resources) -> str:
    ns = tenant_namespace(resources)
    return add(resources, ns, "kubernetes:core/v1:NamespacePatch", "alpha-namespace-psa-relax", {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns["inputs"]["metadata"]["name"],
                     "labels": {PSA + "enforce": "privileged"}}})


@mutation("ISO-NS-02")
def tenant_label_dropped_and_psa_relaxed(resources: Resources) -> str:
    ns = tenant_namespace(resources)
    labels = ns["inputs"]["metadata"]["labels"]
    ns["inputs"]["metadata"]["labels"] = {k: v for k, v in labels.items() if not k.startswith(PSA)}
    del ns["inputs"]["metadata"]["labels"]["tenant"]
    return _culprit(ns)


# --- ISO-META-01: labels that decide which rules apply -------------------------------------
@mutation("ISO-META-01")
def node_tier_pod_relabelled_vcluster(resources: Resources) -> str:
    dep = files_deployment(resources, NODE_TENANT)
    dep["inputs"]["metadata"]["labels"]["tier"] = "vcluster"
    return _culprit(dep)


@mutation("ISO-META-01")
def cell_workload_claims_the_cluster_tier(resources: Resources) -> str:
    dep = files_deployment(resources)
    dep["inputs"]["metadata"]["labels"]["tier"] = "cluster"   # a tier no cell rule judges
    return _culprit(dep)


@mutation("ISO-META-01", stack=DEDICATED_STACK)
def dedicated_workload_claims_the_namespace_tier(resources: Resources) -> str:
    dep = files_deployment(resources, DEDICATED_TENANT)
    dep["inputs"]["metadata"]["labels"]["tier"] = "namespace"
    return _culprit(dep)


@mutation("ISO-META-01")
def namespace_tier_bucket_tagged_cluster(resources: Resources) -> str:
    bucket = find(resources, "aws:s3/bucket:Bucket", f"{TENANT}-files-storage-files")
    bucket["inputs"]["tags"]["tier"] = "cluster"
    return _culprit(bucket)


@mutation("ISO-META-01")
def object_labelled_for_a_tenant_not_in_the_stack(resources: Resources) -> str:
    sa = find(resources, "kubernetes:core/v1:ServiceAccount", f"{TENANT}-fileserver-sa")
    sa["inputs"]["metadata"]["labels"]["tenant"] = "zulu"
    return _culprit(sa)


@mutation("ISO-META-01")
def pool_labels_disagree_with_pool_tags(resources: Resources) -> str:
    group = pool(resources)
    group["inputs"]["labels"]["tier"] = "namespace"
    return _culprit(group)


# --- ISO-META-02: charts the policies can see ----------------------------------------------
def _v3_release(resources: Resources, name: str, values: dict[str, object]) -> str:
    chart = find(resources, "kubernetes:helm.sh/v4:Chart", "charlie-vcluster-chart")
    release = copy.deepcopy(chart["inputs"])
    release.update(name=name.removeprefix("charlie-"), values=values)
    return add(resources, chart, "kubernetes:helm.sh/v3:Release", name, release)


@mutation("ISO-META-02")
def tenant_chart_as_helm_v3_release(resources: Resources) -> str:
    chart = find(resources, "kubernetes:helm.sh/v4:Chart", "charlie-vcluster-chart")
    return _v3_release(resources, "charlie-vcluster-release", json.loads(json.dumps(
        chart["inputs"]["values"])))


@mutation("ISO-META-02")
def privileged_tool_hidden_in_a_v3_release(resources: Resources) -> str:
    return _v3_release(resources, "charlie-debug-tools", {
        "securityContext": {"privileged": True}, "hostNetwork": True})


MUTATIONS: list[Mutation] = [
    dedicated_pool_without_taint, dedicated_pool_taint_only_preferred,
    dedicated_pool_tainted_for_another_tenant, dedicated_pool_without_label,
    shared_pool_labelled_for_the_node_tenant,
    keyless_exists_toleration, namespace_tier_pod_joins_the_dedicated_pool,
    node_tier_pod_selects_another_tenants_pool, node_tier_pod_loses_its_selector,
    node_tier_pod_tolerates_every_tenant_pool, tenant_pod_tolerates_the_system_pool,
    pod_bound_to_a_node_by_name, dedicated_pool_removed,
    imds_tokens_optional, imds_hop_limit_two, metadata_options_dropped,
    node_group_on_the_eks_default_launch_template, dedicated_cluster_hop_limit_two,
    admin_policy_on_the_node_role, cni_policy_back_on_the_node_role,
    vpc_cni_without_its_own_identity,
    ssh_remote_access_on_the_pool, key_pair_on_the_launch_template,
    nodes_get_public_ips, node_volume_unencrypted, node_volume_on_the_aws_managed_key,
    private_subnet_maps_public_ips,
    tenant_built_image_without_sandbox,
    workload_moved_to_default, workload_moved_to_kube_system,
    workload_moved_to_another_tenants_namespace, workload_namespace_dropped,
    service_account_moved_to_kube_public, unlabelled_copy_lands_in_default,
    tenant_namespace_renamed,
    psa_enforce_baseline, psa_enforce_removed, psa_version_latest, psa_audit_privileged,
    psa_warn_removed, psa_relaxed_by_namespace_patch, tenant_label_dropped_and_psa_relaxed,
    node_tier_pod_relabelled_vcluster, cell_workload_claims_the_cluster_tier,
    dedicated_workload_claims_the_namespace_tier, namespace_tier_bucket_tagged_cluster,
    object_labelled_for_a_tenant_not_in_the_stack, pool_labels_disagree_with_pool_tags,
    tenant_chart_as_helm_v3_release, privileged_tool_hidden_in_a_v3_release,
]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_gate_stops(fleet_plan, tmp_path, m):
    assert_check_fails(fleet_plan, m, tmp_path)

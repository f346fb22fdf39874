"""What the mock engine answers for resources and invokes, per type token.

Under mocks a resource's outputs are whatever we return here. Most resources echo their
inputs plus an id and an ARN; components whose outputs other resources consume (the EKS
component's kubeconfig and OIDC provider, RDS Proxy's resource id...) get realistic
values so that the program's wiring is exercised exactly as in a real deployment.

Unknown invokes raise: a program that calls a data source we have not mocked must fail
loudly instead of silently receiving ``{}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "ap-northeast-1"
#: What plan.json says about values this module invents (its top-level ``mock``): a reader
#: must not take them for a real account's.
INVENTED: dict[str, Any] = {
    "accountId": ACCOUNT_ID,
    "note": ("planned offline under the mock engine: the account id above, and every ARN, id and "
             "endpoint that a resource's inputs take from other resources' outputs (the input names "
             "under options.propertyDependencies), are invented, not read from AWS"),
}

Outputs = dict[str, Any]
#: type token -> function(name, inputs) -> extra outputs merged over the inputs.
RESOURCE_OUTPUTS: dict[str, Callable[[str, Outputs], Outputs]] = {}
#: invoke token -> function(args) -> result.
CALLS: dict[str, Callable[[Outputs], Outputs]] = {}


class UnmockedInvoke(RuntimeError):
    """The program called a data source the mock engine does not know."""


def resource_outputs(type_: str, name: str, inputs: Outputs) -> tuple[str, Outputs]:
    """The (id, outputs) the mock engine reports for a new resource."""
    state = dict(inputs)
    physical = inputs.get("name") or inputs.get("bucket") or name
    if not isinstance(physical, str):
        physical = name
    if type_.startswith("aws:"):
        service = type_.split(":")[1].split("/")[0]
        state.setdefault("arn", f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{service}/{physical}")
    extra = RESOURCE_OUTPUTS.get(type_)
    if extra is not None:
        state.update(extra(name, inputs))
    return f"{physical}-id", state


def call(token: str, args: Outputs) -> Outputs:
    """Answer an invoke, or raise :class:`UnmockedInvoke`."""
    fn = CALLS.get(token)
    if fn is None:
        raise UnmockedInvoke(f"invoke {token!r} has no mock in tenantctl/mock_outputs.py")
    return fn(args)


def _register() -> None:
    CALLS["aws:index/getCallerIdentity:getCallerIdentity"] = lambda _a: {
        "accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/plan",
        "userId": "AIDPLAN", "id": ACCOUNT_ID}
    CALLS["aws:index/getPartition:getPartition"] = lambda _a: {
        "partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    CALLS["aws:index/getRegion:getRegion"] = lambda a: {
        "name": a.get("name") or REGION, "region": a.get("region") or REGION, "id": REGION}
    CALLS["aws:index/getAvailabilityZones:getAvailabilityZones"] = lambda _a: {
        "names": [f"{REGION}a", f"{REGION}c", f"{REGION}d"],
        "zoneIds": ["apne1-az4", "apne1-az1", "apne1-az2"], "id": REGION}

    def kms_key(name: str, inputs: Outputs) -> Outputs:
        return {"keyId": f"key-{name}",
                "arn": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/key-{name}"}

    RESOURCE_OUTPUTS["aws:kms/key:Key"] = kms_key
    RESOURCE_OUTPUTS["aws:iam/role:Role"] = lambda name, i: {
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{i.get('name') or name}"}
    RESOURCE_OUTPUTS["aws:iam/policy:Policy"] = lambda name, i: {
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:policy/{i.get('name') or name}"}
    RESOURCE_OUTPUTS["aws:s3/bucket:Bucket"] = lambda name, i: {
        "arn": f"arn:aws:s3:::{i.get('bucket') or name}", "bucket": i.get("bucket") or name}
    RESOURCE_OUTPUTS["aws:s3/bucketV2:BucketV2"] = RESOURCE_OUTPUTS["aws:s3/bucket:Bucket"]
    RESOURCE_OUTPUTS["aws:secretsmanager/secret:Secret"] = lambda name, i: {
        "arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{i.get('name') or name}-AbCdEf"}
    RESOURCE_OUTPUTS["kubernetes:core/v1:Namespace"] = lambda name, i: {
        "metadata": {**(i.get("metadata") or {}), "name": (i.get("metadata") or {}).get("name", name)}}
    RESOURCE_OUTPUTS["kubernetes:helm.sh/v4:Chart"] = lambda name, i: {"resources": []}
    RESOURCE_OUTPUTS["aws:ec2/launchTemplate:LaunchTemplate"] = lambda name, i: {
        "latestVersion": 1, "defaultVersion": 1}
    RESOURCE_OUTPUTS["aws:eks/nodeGroup:NodeGroup"] = lambda name, i: {
        "nodeGroupName": i.get("nodeGroupName") or name,
        "arn": f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:nodegroup/{i.get('clusterName')}/"
               f"{i.get('nodeGroupName') or name}/0"}
    RESOURCE_OUTPUTS["aws:ecr/repository:Repository"] = lambda name, i: {
        "arn": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{i.get('name') or name}",
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{i.get('name') or name}",
        "registryId": ACCOUNT_ID}
    _register_cluster()
    _register_database()
    _register_token_budget()
    _ = json  # json is used by registrations added in other modules


def _register_cluster() -> None:
    """What TenantCluster and the platform add-ons read back: EKS, OIDC, logs, DNS zone."""
    import hashlib

    def eks_cluster(name: str, i: Outputs) -> Outputs:
        cluster = i.get("name") or name
        digest = hashlib.sha256(cluster.encode()).hexdigest()[:32].upper()
        vpc = i.get("vpcConfig") or {}
        return {
            "arn": f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:cluster/{cluster}",
            "endpoint": f"https://{digest}.gr7.{REGION}.eks.amazonaws.com",
            "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{REGION}.amazonaws.com/id/{digest}"}]}],
            "vpcConfig": {**vpc, "clusterSecurityGroupId": f"sg-{digest[:17].lower()}",
                          "vpcId": f"vpc-{digest[:17].lower()}"},
            "status": "ACTIVE", "platformVersion": "eks.1"}

    RESOURCE_OUTPUTS["aws:eks/cluster:Cluster"] = eks_cluster
    RESOURCE_OUTPUTS["aws:iam/openIdConnectProvider:OpenIdConnectProvider"] = lambda name, i: {
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{str(i.get('url', name)).removeprefix('https://')}"}
    RESOURCE_OUTPUTS["aws:cloudwatch/logGroup:LogGroup"] = lambda name, i: {
        "arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{i.get('name') or name}"}
    RESOURCE_OUTPUTS["aws:eks/accessEntry:AccessEntry"] = lambda name, i: {
        "accessEntryArn": f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:access-entry/{i.get('clusterName')}/{name}"}
    RESOURCE_OUTPUTS["aws:eks/addon:Addon"] = lambda name, i: {
        "arn": f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:addon/{i.get('clusterName')}/{i.get('addonName')}/0"}


def _register_token_budget() -> None:
    """ARNs in AWS's formats for the token budget (IAM policies name them; parliament checks them)."""
    import hashlib

    def profile(name: str, i: Outputs) -> Outputs:
        profile_id = hashlib.sha256((i.get("name") or name).encode()).hexdigest()[:12]
        return {"arn": f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:application-inference-profile/{profile_id}",
                "id": profile_id}

    RESOURCE_OUTPUTS["aws:bedrock/inferenceProfile:InferenceProfile"] = profile
    RESOURCE_OUTPUTS["aws:cloudwatch/metricAlarm:MetricAlarm"] = lambda name, i: {
        "arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{i.get('name') or name}"}
    RESOURCE_OUTPUTS["aws:lambda/function:Function"] = lambda name, i: {
        "arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{i.get('name') or name}"}
    RESOURCE_OUTPUTS["aws:cloudwatch/eventRule:EventRule"] = lambda name, i: {
        "arn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{i.get('name') or name}"}


def _register_database() -> None:
    """RDS instance and proxy outputs as AWS returns them (ARN formats, ids, endpoints)."""
    import hashlib

    def digest(name: str, n: int) -> str:
        return hashlib.sha256(name.encode()).hexdigest()[:n]

    def instance(name: str, i: Outputs) -> Outputs:
        ident = i.get("identifier") or name
        address = f"{ident}.c{digest(ident, 11)}.{REGION}.rds.amazonaws.com"
        return {"arn": f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:{ident}", "identifier": ident,
                "address": address, "endpoint": f"{address}:5432", "port": i.get("port") or 5432,
                "resourceId": f"db-{digest(ident, 26).upper()}",
                "masterUserSecrets": [{
                    "secretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:"
                                 f"rds!db-{digest(ident, 8)}-0000-0000-0000-{digest(ident, 12)}-AbCdEf",
                    "kmsKeyId": i.get("masterUserSecretKmsKeyId"), "secretStatus": "active"}]}

    def proxy(name: str, i: Outputs) -> Outputs:
        proxy_name = i.get("name") or name
        return {"arn": f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db-proxy:prx-{digest(proxy_name, 17)}",
                "endpoint": f"{proxy_name}.proxy-c{digest(proxy_name, 11)}.{REGION}.rds.amazonaws.com"}

    RESOURCE_OUTPUTS["aws:rds/instance:Instance"] = instance
    RESOURCE_OUTPUTS["aws:rds/proxy:Proxy"] = proxy
    RESOURCE_OUTPUTS["aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup"] = lambda name, i: {
        "name": "default", "arn": f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:target-group:prx-tg-{digest(name, 17)}"}
    # The rotation application's stack outputs the function it deployed.
    RESOURCE_OUTPUTS["aws:serverlessrepository/cloudFormationStack:CloudFormationStack"] = lambda name, i: {
        "outputs": {"RotationLambdaARN": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
                                         f"{(i.get('parameters') or {}).get('functionName', name)}"}}
    RESOURCE_OUTPUTS["aws:ec2/securityGroup:SecurityGroup"] = lambda name, i: {
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/sg-{digest(name, 17)}"}
    CALLS["aws:secretsmanager/getSecretVersion:getSecretVersion"] = lambda a: {
        "arn": a.get("secretId"), "id": f"{a.get('secretId')}|AWSCURRENT", "versionId": "v-mock",
        "versionStage": "AWSCURRENT", "versionStages": ["AWSCURRENT"],
        "secretString": json.dumps({"username": "tpadmin", "password": "mock-admin-password"})}


_register()

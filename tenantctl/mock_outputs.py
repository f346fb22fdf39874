"""What the mock engine answers for resources and invokes, per type token.

Under mocks a resource's outputs are whatever we return here. Most resources echo their
inputs plus an id and an ARN; components whose outputs other resources consume (the EKS
component's kubeconfig and OIDC provider, RDS Proxy's resource id...) get realistic
values so that the program's wiring is exercised exactly as in a real deployment.

Unknown invokes raise: a program that calls a data source we have not mocked must fail
loudly instead of silently receiving ``{}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Where:
    """The account and region a resource or invoke acts in: those of its AWS provider."""

    account: str = ACCOUNT_ID
    region: str = REGION


def where_of(provider_inputs: Outputs | None) -> Where:
    """Where an ``aws`` provider acts (the mock's default account and region without one).

    The account of the role it assumes, else the one it allows; its region.
    """
    if not provider_inputs:
        return Where()

    def value(key: str) -> Any:
        # Provider configuration reaches the engine JSON-encoded when it is not a string.
        raw = provider_inputs.get(key)
        return json.loads(raw) if isinstance(raw, str) and raw[:1] in "[{" else raw

    roles = [str((r or {}).get("roleArn") or "") for r in value("assumeRoles") or []]
    allowed = [str(a) for a in value("allowedAccountIds") or []]
    account = roles[0].split(":")[4] if roles and roles[0].count(":") >= 5 else (allowed or [ACCOUNT_ID])[0]
    return Where(account or ACCOUNT_ID, str(provider_inputs.get("region") or REGION))


def rehome(value: Any, where: Where) -> Any:
    """Invented outputs (ARNs, endpoints) moved from the default account and region to ``where``."""
    if where == Where():
        return value
    if isinstance(value, str):
        return value.replace(ACCOUNT_ID, where.account).replace(REGION, where.region)
    if isinstance(value, dict):
        return {k: rehome(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [rehome(v, where) for v in value]
    return value


#: Zones per region as EC2 reports them to the mock account, (name, zone id) in name order.
#: Names map to different zones in every account; these are one plausible mapping.
ZONES: dict[str, list[tuple[str, str]]] = {
    "ap-northeast-1": [("ap-northeast-1a", "apne1-az4"), ("ap-northeast-1c", "apne1-az1"),
                       ("ap-northeast-1d", "apne1-az2")],
    "us-east-1": [("us-east-1a", "use1-az6"), ("us-east-1b", "use1-az1"), ("us-east-1c", "use1-az2"),
                  ("us-east-1d", "use1-az4"), ("us-east-1e", "use1-az3"), ("us-east-1f", "use1-az5")],
}


def availability_zones(args: Outputs, where: Where) -> Outputs:
    """``aws:index/getAvailabilityZones`` as EC2 answers: zones of the region, filtered."""
    region = str(args.get("region") or where.region)
    if region not in ZONES:
        raise UnmockedInvoke(f"the mock knows no availability zones of {region}: add them to ZONES")
    zones = ZONES[region]
    for flt in args.get("filters") or []:
        if flt.get("name") == "zone-id":
            zones = [z for z in zones if z[1] in flt.get("values", [])]
        elif flt.get("name") != "opt-in-status":  # every mocked zone is opt-in-not-required
            raise UnmockedInvoke(f"getAvailabilityZones filter {flt.get('name')!r} is not mocked")
    excluded = set(args.get("excludeZoneIds") or []) | set(args.get("excludeNames") or [])
    zones = [z for z in zones if z[0] not in excluded and z[1] not in excluded]
    return {"names": [z[0] for z in zones], "zoneIds": [z[1] for z in zones],
            "groupNames": [region] * len(zones), "id": region, "region": region}


#: invoke token -> function(args, where) -> result: invokes whose answer depends on the provider.
PLACED_CALLS: dict[str, Callable[[Outputs, Where], Outputs]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": availability_zones,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda _a, w: {
        "accountId": w.account, "arn": f"arn:aws:sts::{w.account}:assumed-role/plan/plan",
        "userId": "AROAPLAN:plan", "id": w.account},
    "aws:index/getRegion:getRegion": lambda a, w: {
        "name": a.get("name") or a.get("region") or w.region, "region": a.get("region") or w.region,
        "id": a.get("region") or w.region},
}


class UnmockedInvoke(RuntimeError):
    """The program called a data source the mock engine does not know."""


def resource_outputs(type_: str, name: str, inputs: Outputs,
                     where: Where = Where()) -> tuple[str, Outputs]:  # noqa: B008 - frozen
    """The (id, outputs) the mock engine reports for a new resource, in its provider's place."""
    state = dict(inputs)
    physical = inputs.get("name") or inputs.get("bucket") or name
    if not isinstance(physical, str):
        physical = name
    if type_.startswith("aws:") and "arn" not in state:
        service = type_.split(":")[1].split("/")[0]
        state["arn"] = rehome(f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{service}/{physical}", where)
    extra = RESOURCE_OUTPUTS.get(type_)
    if extra is not None:
        state.update(rehome(extra(name, inputs), where))
    return f"{physical}-id", state


def call(token: str, args: Outputs, where: Where = Where()) -> Outputs:  # noqa: B008 - frozen
    """Answer an invoke as made through a provider acting in ``where``, or raise :class:`UnmockedInvoke`."""
    placed = PLACED_CALLS.get(token)
    if placed is not None:
        return placed(args, where)
    fn = CALLS.get(token)
    if fn is None:
        raise UnmockedInvoke(f"invoke {token!r} has no mock in tenantctl/mock_outputs.py")
    return rehome(fn(args), where)


def ecr_authorization_token(args: Outputs, where: Where) -> Outputs:
    """``aws:ecr/getAuthorizationToken`` as ECR answers: a token for one registry of the region."""
    registry = str(args.get("registryId") or where.account)
    return {"authorizationToken": base64.b64encode(b"AWS:mock-ecr-password").decode(),
            "expiresAt": "2099-01-01T00:00:00Z", "id": where.region, "password": "mock-ecr-password",
            "proxyEndpoint": f"https://{registry}.dkr.ecr.{where.region}.amazonaws.com",
            "registryId": registry, "userName": "AWS"}


PLACED_CALLS["aws:ecr/getAuthorizationToken:getAuthorizationToken"] = ecr_authorization_token


def _register() -> None:
    CALLS["aws:index/getPartition:getPartition"] = lambda _a: {
        "partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}

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

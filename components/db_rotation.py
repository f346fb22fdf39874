"""Rotation of a tenant's database login: AWS's single-user PostgreSQL rotation function.

The tenant's secret holds the password its RDS Proxy signs in with (clients use IAM
tokens and never see it). Secrets Manager rotates it every :data:`ROTATION_DAYS` days
(ISO-DATA-07) with AWS's ``SecretsManagerRDSPostgreSQLRotationSingleUser`` function,
deployed from the Serverless Application Repository at the version pinned in
:data:`components.versions.SECRET_ROTATION_APPLICATION`:

- one function per tenant, so its IAM role (written by the template) reads and writes
  that tenant's secret and uses that tenant's key, nothing else;
- it runs in the cluster's private subnets under the server's rotation security group,
  which reaches the instance on 5432 and the Secrets Manager API on 443 (through the NAT
  gateway); the instance admits that group (:class:`components.database.DatabaseServer`);
- single-user: the function signs in *as the tenant's login* to the instance endpoint
  (host, port and database are in the secret) and changes its own password, which any
  PostgreSQL role may do; the proxy picks the new secret up for new connections.

Once rotation runs, Secrets Manager owns the password: the secret's value is written by
Pulumi once (``ignore_changes``) and the bootstrap sets the password only when it
creates the login (:mod:`components.db_provider`). To reset it, rotate the secret
(``aws secretsmanager rotate-secret``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import versions

ROTATION_DAYS = 30
#: What the template's IAM role and Lambda permission need CloudFormation to accept.
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY")
#: Kept out of generated passwords: they break connection strings and SQL literals.
EXCLUDE_CHARACTERS = "/@\"'\\:;,%"


def rotation_application(partition: str) -> tuple[str, str]:
    """(application ARN, semantic version) of the rotation function in a partition."""
    try:
        return versions.SECRET_ROTATION_APPLICATION[partition]
    except KeyError:
        raise ValueError(f"no secret rotation application is pinned for partition {partition!r}") from None


def secrets_manager_endpoint(region: str, partition: str) -> str:
    """The Secrets Manager API endpoint the function calls."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://secretsmanager.{region}.{suffix}"


def rotation_parameters(*, function_name: str, region: str, partition: str, subnet_ids: Sequence[str],
                        security_group_id: str, key_arn: str) -> dict[str, str]:
    """The template's parameters (all strings; lists comma-joined as SAR expects)."""
    return {
        "endpoint": secrets_manager_endpoint(region, partition),
        "functionName": function_name,
        "vpcSubnetIds": ",".join(subnet_ids),
        "vpcSecurityGroupIds": security_group_id,
        "kmsKeyArn": key_arn,
        "excludeCharacters": EXCLUDE_CHARACTERS,
    }


def rotate_secret(name: str, parent: pulumi.Resource, *, function_name: str, secret_id: pulumi.Input[str],
                  key_arn: pulumi.Input[str], region: str, partition: str,
                  subnet_ids: pulumi.Input[Sequence[str]], security_group_id: pulumi.Input[str],
                  tags: Mapping[str, str],
                  after: Sequence[pulumi.Resource]) -> aws.secretsmanager.SecretRotation:
    """Deploy the tenant's rotation function and schedule the rotation of its secret.

    ``after``: what must exist before the first rotation (which runs at once): the
    secret's first value and the login it names.
    """
    application_id, version = rotation_application(partition)
    parameters = pulumi.Output.all(subnet_ids, security_group_id, key_arn).apply(
        lambda v: rotation_parameters(function_name=function_name, region=region, partition=partition,
                                      subnet_ids=list(v[0]), security_group_id=str(v[1]), key_arn=str(v[2])))
    function = aws.serverlessrepository.CloudFormationStack(
        f"{name}-rotation-function", name=function_name, application_id=application_id,
        semantic_version=version, capabilities=list(CAPABILITIES), parameters=parameters, tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent))
    return aws.secretsmanager.SecretRotation(
        f"{name}-rotation", secret_id=secret_id,
        rotation_lambda_arn=function.outputs.apply(lambda o: str(o["RotationLambdaARN"])),
        rotation_rules={"automatically_after_days": ROTATION_DAYS}, rotate_immediately=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)))

"""The rotation function's pure parts: where it comes from per partition and what it is told."""

from __future__ import annotations

import pytest

from components import db_rotation, versions


@pytest.mark.parametrize("partition", sorted(versions.SECRET_ROTATION_APPLICATION))
def test_every_partition_pins_aws_own_postgres_single_user_application(partition: str) -> None:
    application, version = db_rotation.rotation_application(partition)
    assert application.startswith(f"arn:{partition}:serverlessrepo:")
    assert application.endswith(":applications/SecretsManagerRDSPostgreSQLRotationSingleUser")
    assert [int(p) for p in version.split(".")] >= [1, 1, 0]


def test_unknown_partition_is_refused() -> None:
    with pytest.raises(ValueError, match="no secret rotation application is pinned for partition 'aws-iso'"):
        db_rotation.rotation_application("aws-iso")


@pytest.mark.parametrize(("region", "partition", "endpoint"), [
    ("ap-northeast-1", "aws", "https://secretsmanager.ap-northeast-1.amazonaws.com"),
    ("cn-north-1", "aws-cn", "https://secretsmanager.cn-north-1.amazonaws.com.cn"),
    ("us-gov-west-1", "aws-us-gov", "https://secretsmanager.us-gov-west-1.amazonaws.com"),
])
def test_secrets_manager_endpoint(region: str, partition: str, endpoint: str) -> None:
    assert db_rotation.secrets_manager_endpoint(region, partition) == endpoint


def test_parameters_are_strings_with_lists_comma_joined() -> None:
    params = db_rotation.rotation_parameters(
        function_name="tp-prod-acme-db-rotation", region="us-east-1", partition="aws",
        subnet_ids=["subnet-1", "subnet-2"], security_group_id="sg-rot", key_arn="arn:aws:kms:k")
    assert params == {"endpoint": "https://secretsmanager.us-east-1.amazonaws.com",
                      "functionName": "tp-prod-acme-db-rotation", "vpcSubnetIds": "subnet-1,subnet-2",
                      "vpcSecurityGroupIds": "sg-rot", "kmsKeyArn": "arn:aws:kms:k",
                      "excludeCharacters": db_rotation.EXCLUDE_CHARACTERS}
    assert all(isinstance(v, str) for v in params.values())


def test_generated_passwords_avoid_characters_that_break_dsns_and_sql() -> None:
    assert set("/@\"'\\:;,%") == set(db_rotation.EXCLUDE_CHARACTERS)

"""ISO-DATA-04: RDS Proxy requires TLS and IAM, one secret per auth, tight SGs, no debug logs."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws
from policy.props import as_list, as_map, is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_REQUIRE_TLS = "Set requireTls to true on the RDS Proxy."
MSG_PROXY_IAM = "Set iamAuth REQUIRED on every auth of the RDS Proxy."
MSG_PROXY_AUTH_SECRETS = "Give every proxy auth its own tenant Secrets Manager secret (secretArn)."
MSG_DEBUG_LOGGING = "Turn debugLogging off on the RDS Proxy (it logs SQL text)."
MSG_PROXY_SECURITY_GROUPS = "Attach dedicated security groups to the RDS Proxy (vpcSecurityGroupIds)."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    props = res.props
    if not is_true(props.get("requireTls")):
        yield MSG_REQUIRE_TLS
    auths = [as_map(a) for a in as_list(props.get("auths"))]
    if not auths or any(a.get("iamAuth") != "REQUIRED" for a in auths):
        yield MSG_PROXY_IAM
    secrets = [text(a.get("secretArn")) for a in auths]
    if not secrets or None in secrets or len(set(secrets)) != len(secrets):
        yield MSG_PROXY_AUTH_SECRETS
    if is_true(props.get("debugLogging")):
        yield MSG_DEBUG_LOGGING
    if not as_list(props.get("vpcSecurityGroupIds")):
        yield MSG_PROXY_SECURITY_GROUPS


RULE = ResourceRule(
    id="ISO-DATA-04",
    description=(
        "RDS Proxy requires TLS and IAM auth, uses one Secrets Manager secret per tenant auth, "
        "has its own security groups, and keeps debug logging off."
    ),
    severity="high", tiers="NPVD", scope="all",
    applies_to=lambda t: t == aws.RDS_PROXY, check=check)

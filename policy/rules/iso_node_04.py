"""ISO-NODE-04 (stack by design): node roles stay minimal; the CNI has its own identity."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import aws, iam, stackview
from policy.props import as_list, as_map, as_str_list, text
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_NODE_POLICIES = ("Attach only the node policies of option nodeRolePolicies (worker node, ECR "
                     "read, SSM) to node roles; give the CNI and workloads their own roles.")
MSG_NODE_INLINE = "Remove inline policies from the node role."
MSG_CNI_IDENTITY = ("Give the vpc-cni add-on its own role: serviceAccountRoleArn (IRSA) or a "
                    "Pod Identity association for the aws-node ServiceAccount.")


def is_node_role(res: Resource) -> bool:
    """A role EC2 instances assume."""
    return any(s.allows and ("Service", "ec2.amazonaws.com") in s.principals()
               for s in iam.statements(res.props.get("assumeRolePolicy")))


def _policy_name(arn: object) -> str:
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) else ""


def _cni_has_identity(res: Resource) -> bool:
    if text(res.props.get("serviceAccountRoleArn")):
        return True
    return any(as_map(a).get("serviceAccount") == "aws-node" and text(as_map(a).get("roleArn"))
               for a in as_list(res.props.get("podIdentityAssociations")))


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    allowed = set(cfg.option("nodeRolePolicies"))
    roles = {r.urn: aws.physical_names(r.props) for r in resources
             if r.type == aws.ROLE and cfg.applies(r) and is_node_role(r)}
    for res in resources:
        if res.urn in roles:
            if any(_policy_name(a) not in allowed for a in as_str_list(res.props.get("managedPolicyArns"))):
                yield Finding(MSG_NODE_POLICIES, res.urn)
            if any(True for _ in iam.role_documents(res.props)):
                yield Finding(MSG_NODE_INLINE, res.urn)
        elif res.type == aws.ROLE_POLICY_ATTACHMENT and stackview.linked(res, "role", roles):
            if _policy_name(res.props.get("policyArn")) not in allowed:
                yield Finding(MSG_NODE_POLICIES, res.urn)
        elif res.type == aws.ROLE_POLICY and stackview.linked(res, "role", roles):
            yield Finding(MSG_NODE_INLINE, res.urn)
        elif aws.is_vpc_cni(res.type, res.props) and cfg.applies(res) and not _cni_has_identity(res):
            yield Finding(MSG_CNI_IDENTITY, res.urn)


RULE = StackRule(
    id="ISO-NODE-04",
    description=(
        "Node roles carry only the minimal node policies, and the VPC CNI gets its permissions "
        "through IRSA or Pod Identity on aws-node instead of the node role."
    ),
    severity="high", tiers="NPVD", scope="all",
    options={"nodeRolePolicies": {
        "type": "array", "items": {"type": "string"},
        "default": ["AmazonEKSWorkerNodePolicy", "AmazonEKSWorkerNodeMinimalPolicy",
                    "AmazonEC2ContainerRegistryReadOnly", "AmazonEC2ContainerRegistryPullOnly",
                    "AmazonSSMManagedInstanceCore"],
        "description": "Names of the managed policies a node role may carry."}},
    check=check,
    reads=lambda t: t in (aws.ROLE, aws.ROLE_POLICY, aws.ROLE_POLICY_ATTACHMENT, aws.ADDON))

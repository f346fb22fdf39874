"""The rule catalogue as data: each rule's severity, tiers and kind.

Tests compare the implemented rules with this table (and with the rule table of
docs/policy.md) so that a rule cannot silently go missing or change severity or tiers.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITY_LETTERS = {"C": "critical", "H": "high", "M": "medium", "L": "low"}


@dataclass(frozen=True)
class Entry:
    """One catalogue row: severity letter, tier letters, whether it is a stack (S) rule."""

    severity: str
    tiers: str
    stack: bool = False

    @property
    def severity_name(self) -> str:
        """``critical``, ``high``, ``medium`` or ``low``."""
        return SEVERITY_LETTERS[self.severity]


CATALOGUE: dict[str, Entry] = {
    "ISO-NS-01": Entry("H", "NPVD", stack=False),
    "ISO-NS-02": Entry("H", "NPVD", stack=False),
    "ISO-NS-03": Entry("H", "NPV", stack=True),
    "ISO-NS-04": Entry("H", "NPV", stack=False),  # raised from M: a scoped quota starves the cell
    "ISO-NS-05": Entry("M", "NPV", stack=True),
    "ISO-NS-06": Entry("H", "NP", stack=False),
    "ISO-FAIR-01": Entry("H", "NPVD", stack=True),  # fair shares: the token budget is enforced
    "ISO-RBAC-01": Entry("C", "NPV", stack=False),
    "ISO-RBAC-02": Entry("H", "NP", stack=False),
    "ISO-RBAC-03": Entry("H", "NPV", stack=False),
    "ISO-RBAC-04": Entry("C", "NPV", stack=False),
    "ISO-RBAC-05": Entry("H", "NP", stack=False),
    "ISO-RBAC-06": Entry("M", "NPVD", stack=False),
    "ISO-RBAC-07": Entry("H", "NPVD", stack=False),
    "ISO-RBAC-08": Entry("C", "NPVD", stack=True),
    "ISO-POD-01": Entry("C", "NPVD", stack=False),
    "ISO-POD-02": Entry("C", "NPVD", stack=False),
    "ISO-POD-03": Entry("H", "NPVD", stack=False),
    "ISO-POD-04": Entry("C", "NPVD", stack=False),
    "ISO-POD-05": Entry("H", "NPV", stack=False),
    "ISO-POD-06": Entry("H", "NPVD", stack=False),
    "ISO-POD-07": Entry("H", "NPVD", stack=False),
    "ISO-POD-08": Entry("H", "NPVD", stack=False),
    "ISO-POD-09": Entry("M", "NPVD", stack=False),
    "ISO-POD-10": Entry("H", "NPVD", stack=False),
    "ISO-POD-11": Entry("M", "NPVD", stack=False),
    "ISO-POD-12": Entry("H", "NPV", stack=False),
    "ISO-POD-13": Entry("M", "NPV", stack=False),
    "ISO-POD-14": Entry("L", "NPVD", stack=False),
    "ISO-NODE-01": Entry("H", "P", stack=False),
    "ISO-NODE-02": Entry("H", "NP", stack=True),
    "ISO-NODE-03": Entry("C", "NPVD", stack=False),
    "ISO-NODE-04": Entry("H", "NPVD", stack=False),
    "ISO-NODE-05": Entry("H", "NPVD", stack=False),
    "ISO-NODE-06": Entry("H", "NPVD", stack=False),
    "ISO-NODE-07": Entry("M", "N", stack=False),
    "ISO-NET-01": Entry("C", "NPV", stack=True),
    "ISO-NET-02": Entry("H", "NPV", stack=False),
    "ISO-NET-03": Entry("C", "NPV", stack=True),
    "ISO-NET-04": Entry("H", "NPV", stack=False),
    "ISO-NET-05": Entry("H", "NPV", stack=False),
    "ISO-NET-06": Entry("H", "NPVD", stack=False),
    "ISO-NET-07": Entry("H", "NPVD", stack=False),
    "ISO-NET-08": Entry("M", "NPVD", stack=False),
    "ISO-NET-09": Entry("M", "NPV", stack=False),
    "ISO-NET-10": Entry("H", "NPV", stack=True),
    "ISO-NET-11": Entry("H", "NPV", stack=False),
    "ISO-NET-12": Entry("H", "NPVD", stack=False),
    "ISO-MESH-01": Entry("H", "NPV", stack=False),
    "ISO-MESH-02": Entry("H", "NPV", stack=True),
    "ISO-MESH-03": Entry("M", "NP", stack=False),
    "ISO-MESH-04": Entry("H", "NP", stack=False),
    "ISO-MESH-05": Entry("H", "NP", stack=False),
    "ISO-MESH-06": Entry("M", "NP", stack=False),
    "ISO-MESH-07": Entry("H", "NPV", stack=True),
    "ISO-MESH-08": Entry("H", "NPV", stack=True),
    "ISO-VC-01": Entry("H", "V", stack=False),
    "ISO-VC-02": Entry("H", "V", stack=False),
    "ISO-EKS-01": Entry("C", "NPVD", stack=False),
    "ISO-EKS-02": Entry("H", "NPVD", stack=False),
    "ISO-EKS-03": Entry("M", "NPVD", stack=False),
    "ISO-EKS-04": Entry("C", "NPVD", stack=False),
    "ISO-IAM-01": Entry("C", "NPVD", stack=False),
    "ISO-IAM-02": Entry("H", "NPVD", stack=True),
    "ISO-IAM-03": Entry("H", "NPVD", stack=False),
    "ISO-IAM-04": Entry("C", "NPV", stack=True),
    "ISO-DATA-01": Entry("C", "NPVD", stack=False),
    "ISO-DATA-02": Entry("H", "NPVD", stack=False),
    "ISO-DATA-03": Entry("M", "NPVD", stack=False),
    "ISO-DATA-04": Entry("H", "NPVD", stack=False),
    "ISO-DATA-05": Entry("C", "NPVD", stack=False),
    "ISO-DATA-06": Entry("H", "NPVD", stack=False),
    "ISO-DATA-07": Entry("M", "NPVD", stack=False),
    "ISO-DATA-08": Entry("M", "NPV", stack=False),
    "ISO-META-01": Entry("H", "NPVD", stack=True),
    "ISO-META-02": Entry("H", "NPV", stack=False),
    "ISO-ADM-01": Entry("H", "NPVD", stack=True),
}

#: Rules the catalogue lists as resource rules that are implemented as stack rules, and
#: why: what they check is a relation between resources, which no single resource shows.
STACK_BY_DESIGN: dict[str, str] = {
    "ISO-NODE-04": "a node role's permissions are attachments and inline policies linked to it",
    "ISO-NET-08": "a VPC has flow logs only if a FlowLog resource points at it",
    "ISO-MESH-06": "whether a NetworkPolicy's namespace runs in ambient mode is its Namespace's "
                   "label or istiod's profile, other resources",
    "ISO-DATA-05": "with pulumi-aws 7 a bucket's public-access block, encryption and "
                   "logging are separate resources linked to it",
    "ISO-DATA-07": "a secret's rotation and policy are separate resources linked to it",
}

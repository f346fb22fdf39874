"""Every pinned version in one table: Kubernetes, EKS add-ons and Helm charts.

Upgrading anything the platform installs is a one-line change here, reviewed like code.
"""

from __future__ import annotations

#: The one Kubernetes version of the platform: clusters, PSA pins and schema validation.
KUBERNETES_VERSION = "1.33"

#: RDS for PostgreSQL engine (cells' shared instances and dedicated tenants' instances).
#: Minor upgrades are explicit (auto minor upgrade off): bump here, review, roll out.
#: pgvector ships with RDS for PostgreSQL 16; tests run on pgserver's PostgreSQL 16.
POSTGRES_ENGINE_VERSION = "16.9"
#: Parameter group family matching the engine's major version.
POSTGRES_PARAMETER_FAMILY = "postgres16"
#: Certificate authority of RDS server certificates that clients verify (verify-full).
RDS_CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"

#: Helm charts (name -> (repository, version)).
CHARTS: dict[str, tuple[str, str]] = {
    "istio-base": ("https://istio-release.storage.googleapis.com/charts", "1.27.3"),
    "istiod": ("https://istio-release.storage.googleapis.com/charts", "1.27.3"),
    "istio-gateway": ("https://istio-release.storage.googleapis.com/charts", "1.27.3"),
    "istio-cni": ("https://istio-release.storage.googleapis.com/charts", "1.27.3"),
    "cert-manager": ("https://charts.jetstack.io", "v1.18.2"),
    "external-dns": ("https://kubernetes-sigs.github.io/external-dns", "1.19.0"),
    "metrics-server": ("https://kubernetes-sigs.github.io/metrics-server", "3.13.0"),
    "kube-prometheus-stack": ("https://prometheus-community.github.io/helm-charts", "77.5.0"),
    "vcluster": ("https://charts.loft.sh", "0.28.0"),
}


def chart(name: str) -> tuple[str, str]:
    """(repository, version) of a pinned chart; KeyError names the missing entry."""
    return CHARTS[name]


#: Chart names in their repository where they differ from the key above.
CHART_NAMES: dict[str, str] = {"istio-base": "base", "istio-gateway": "gateway", "istio-cni": "cni"}


def chart_name(name: str) -> str:
    """The chart's name in its repository."""
    chart(name)
    return CHART_NAMES.get(name, name)


#: EKS managed add-ons (name -> version), for ``KUBERNETES_VERSION``. Check a bump with
#: ``aws eks describe-addon-versions --kubernetes-version 1.33 --addon-name <name>``.
EKS_ADDONS: dict[str, str] = {
    "vpc-cni": "v1.20.1-eksbuild.3",
    "kube-proxy": "v1.33.3-eksbuild.4",
    "coredns": "v1.12.2-eksbuild.4",
    "aws-ebs-csi-driver": "v1.48.0-eksbuild.1",
}


def eks_addon(name: str) -> str:
    """Pinned version of an EKS add-on; KeyError names the missing entry."""
    return EKS_ADDONS[name]


#: AWS's single-user rotation function for RDS PostgreSQL (Serverless Application
#: Repository), per partition: (application ARN, semantic version). The versions are the
#: ones aws-cdk-lib pins; check with ``aws serverlessrepo list-application-versions``.
SECRET_ROTATION_APPLICATION: dict[str, tuple[str, str]] = {
    "aws": ("arn:aws:serverlessrepo:us-east-1:297356227824:applications/"
            "SecretsManagerRDSPostgreSQLRotationSingleUser", "1.1.671"),
    "aws-cn": ("arn:aws-cn:serverlessrepo:cn-north-1:193023089310:applications/"
               "SecretsManagerRDSPostgreSQLRotationSingleUser", "1.1.440"),
    "aws-us-gov": ("arn:aws-us-gov:serverlessrepo:us-gov-west-1:023102451235:applications/"
                   "SecretsManagerRDSPostgreSQLRotationSingleUser", "1.1.383"),
}

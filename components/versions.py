"""Every pinned version in one table: Kubernetes, EKS add-ons and Helm charts.

Upgrading anything the platform installs is a one-line change here, reviewed like code.
"""

from __future__ import annotations

#: The one Kubernetes version of the platform: clusters, PSA pins and schema validation.
KUBERNETES_VERSION = "1.33"

#: Helm charts (name -> (repository, version)).
CHARTS: dict[str, tuple[str, str]] = {
    "istio-base": ("https://istio-release.storage.googleapis.com/charts", "1.27.3"),
    "istiod": ("https://istio-release.storage.googleapis.com/charts", "1.27.3"),
    "istio-gateway": ("https://istio-release.storage.googleapis.com/charts", "1.27.3"),
    "cert-manager": ("https://charts.jetstack.io", "v1.18.2"),
    "external-dns": ("https://kubernetes-sigs.github.io/external-dns", "1.19.0"),
    "metrics-server": ("https://kubernetes-sigs.github.io/metrics-server", "3.13.0"),
    "kube-prometheus-stack": ("https://prometheus-community.github.io/helm-charts", "77.5.0"),
    "vcluster": ("https://charts.loft.sh", "0.28.0"),
}


def chart(name: str) -> tuple[str, str]:
    """(repository, version) of a pinned chart; KeyError names the missing entry."""
    return CHARTS[name]

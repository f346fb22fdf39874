"""Helm charts and releases as policies see them: chart name, namespace, values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.props import as_map, get, text

CHART_V4 = "kubernetes:helm.sh/v4:Chart"
RELEASE_V3 = "kubernetes:helm.sh/v3:Release"
CHART_V3 = "kubernetes:helm.sh/v3:Chart"
VCLUSTER_REPOSITORIES = ("https://charts.loft.sh", "oci://ghcr.io/loft-sh")


def is_chart_type(type_: str) -> bool:
    """A Helm chart or release whose values are visible as inputs."""
    return type_ in (CHART_V4, RELEASE_V3, CHART_V3)


def chart_name(props: Mapping[str, Any]) -> str:
    """The chart's name without repository or OCI prefix (``vcluster``)."""
    chart = text(props.get("chart")) or ""
    return chart.rstrip("/").rsplit("/", 1)[-1]


def values(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The chart's values."""
    return as_map(props.get("values"))


def is_vcluster(type_: str, props: Mapping[str, Any]) -> bool:
    """A vCluster chart or release."""
    if not is_chart_type(type_):
        return False
    repository = text(get(props, "repositoryOpts", "repo")) or ""
    return chart_name(props) == "vcluster" or (
        repository.rstrip("/").startswith(VCLUSTER_REPOSITORIES)
        and chart_name(props).startswith("vcluster"))

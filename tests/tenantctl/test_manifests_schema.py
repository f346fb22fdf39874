"""Every manifest the offline plan renders validates strictly against Kubernetes 1.33."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components.versions import KUBERNETES_VERSION
from tests.components import manifest_checks


def _manifests(sample_plan):
    return sorted((sample_plan.out / "manifests").rglob("*.yaml"))


def test_plan_renders_manifests(sample_plan):
    assert len(_manifests(sample_plan)) > 200


def test_every_manifest_the_plan_writes_validates_strictly(sample_plan):
    """Built-in kinds against the 1.33 schema; custom kinds against their CRD schemas."""
    failures = []
    for path in _manifests(sample_plan):
        obj = yaml.safe_load(path.read_text())
        try:
            manifest_checks.validate(obj)
        except kubernetes_validate.SchemaNotFoundError:
            failures.append(f"{path.relative_to(sample_plan.out)}: no schema for {obj['apiVersion']} "
                            f"{obj['kind']}: add one to tests/components/manifest_checks.py")
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            failures.append(f"{path.relative_to(sample_plan.out)}: {exc.message} at {list(exc.path)}")
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize(("mutation", "message"), [
    (lambda o: o["metadata"].update(labelz={}), "'labelz' was unexpected"),
    (lambda o: o.update(spec={"finalizers": "kubernetes"}), "is not of type"),
], ids=["unknown-field", "wrong-type"])
def test_strict_validation_catches_bad_manifests(mutation, message):
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-x"}}
    kubernetes_validate.validate(obj, f"{KUBERNETES_VERSION}.0", strict=True)
    mutation(obj)
    with pytest.raises(kubernetes_validate.ValidationError, match=message):
        kubernetes_validate.validate(obj, f"{KUBERNETES_VERSION}.0", strict=True)

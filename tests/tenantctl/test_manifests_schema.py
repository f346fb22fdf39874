"""Every manifest the offline plan renders validates strictly against Kubernetes 1.33."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from components.versions import KUBERNETES_VERSION

#: Custom resources the platform renders. The Kubernetes schema does not know them; their
#: shape is asserted by the component tests of the components that render them.
KNOWN_CRD_GROUPS = {
    "security.istio.io", "networking.istio.io", "telemetry.istio.io", "cert-manager.io",
    "monitoring.coreos.com", "externaldns.k8s.io",
}


def _manifests(sample_plan):
    return sorted((sample_plan.out / "manifests").rglob("*.yaml"))


def test_plan_renders_manifests(sample_plan):
    assert len(_manifests(sample_plan)) > 0


def test_every_manifest_validates_strictly(sample_plan):
    version = f"{KUBERNETES_VERSION}.0"
    failures, custom = [], []
    for path in _manifests(sample_plan):
        obj = yaml.safe_load(path.read_text())
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            custom.append(obj)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{path.relative_to(sample_plan.out)}: {exc.message} at {list(exc.path)}")
    assert not failures, "\n".join(failures[:20])
    unknown = sorted({o["apiVersion"] for o in custom
                      if o["apiVersion"].split("/")[0] not in KNOWN_CRD_GROUPS})
    assert not unknown, f"custom resources nobody validates: {unknown}"
    for obj in custom:
        assert obj["metadata"]["name"] and isinstance(obj.get("spec"), dict), obj


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

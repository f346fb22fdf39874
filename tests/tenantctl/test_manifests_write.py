"""Writing manifests: a name collision fails without overwriting; the fast emitter changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantctl import manifests


def _config_map(name: str, value: str, **options: Any) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:s::p::kubernetes:core/v1:ConfigMap::{name}-{value}",
            "type": "kubernetes:core/v1:ConfigMap", "name": name,
            "inputs": {"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": name, "namespace": "tenant-a"},
                       "data": {"value": value, "long": "x " * 80, "unicode": "名前 ünïcode",
                                "multi": "line one\nline two\n", "quoted": "yes", "number": "012"}},
            "options": options}


def test_two_objects_with_one_path_fail_and_the_first_is_kept(tmp_path: Path) -> None:
    first, second = _config_map("same", "first"), _config_map("same", "second")
    with pytest.raises(FileExistsError, match="two objects render to"):
        manifests.write_manifests([first, second], tmp_path)
    (written,) = tmp_path.rglob("*.yaml")
    assert yaml.safe_load(written.read_text())["data"]["value"] == "first"


def test_manifests_are_what_the_pure_python_emitter_writes(tmp_path: Path) -> None:
    resources = [_config_map("a", "1", propertyDependencies={"data": ["urn:x"]}), _config_map("b", "2")]
    assert manifests.write_manifests(resources, tmp_path) == 2
    for resource in resources:
        obj = manifests.manifest(resource)
        body = yaml.safe_dump(obj, sort_keys=False)
        path = tmp_path / manifests.manifest_path(obj)
        assert path.read_text(encoding="utf-8") == manifests.mock_note(resource, body) + body

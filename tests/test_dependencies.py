"""Every library the shipped packages import is a runtime dependency, not only a test one.

The test extras install more (moto pulls in boto3, for one), so a module imported only by a
rarely run path (``tenantctl migrate --apply``'s file copy imports boto3 lazily) would pass
every test and fail for a user who installed the project without them. Imports are read
from the source (every ``import``, lazy ones included) and mapped to their distributions.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("components", "tenants", "policy", "tenantctl")


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[\[=<>!~; ]", spec, maxsplit=1)[0] for spec in project["dependencies"]}
    return {n.lower().replace("_", "-") for n in names}


def _closure(names: set[str]) -> set[str]:
    """The declared distributions and everything they require (installed here)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in metadata.requires(name) or ():
            if "extra ==" in requirement:
                continue
            todo.append(re.split(r"[\[=<>!~; (]", requirement, maxsplit=1)[0].lower().replace("_", "-"))
    return seen


def test_every_imported_library_is_a_runtime_dependency():
    imports = set().union(*(_top_level_imports(p) for pkg in SHIPPED for p in (ROOT / pkg).rglob("*.py")))
    third_party = {m for m in imports - set(SHIPPED) - set(sys.stdlib_module_names)
                   if m != "__future__"}
    distributions = metadata.packages_distributions()
    available = _closure(_declared())
    missing = {}
    for module in sorted(third_party):
        owners = {d.lower().replace("_", "-") for d in distributions.get(module, ())}
        assert owners, f"{module}: imported by the shipped code but installed by no distribution"
        if not owners & available:
            missing[module] = sorted(owners)
    assert not missing, f"imported but not a runtime dependency (pyproject [project] dependencies): {missing}"


def test_the_check_sees_a_lazy_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    import boto3\n    from moto import mock_aws\n")
    assert _top_level_imports(source) == {"boto3", "moto"}

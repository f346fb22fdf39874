"""Every rule has seeded violations, one per way it can fail (each of its messages)."""

from __future__ import annotations

import importlib
import pkgutil

import policy.rules
from tests.policy import (
    test_rbac_effective,
    test_rule_iso_adm_01,
    test_rules_cloud,
    test_rules_mesh_vc,
    test_rules_node,
    test_rules_node_net,
    test_rules_ns_rbac,
    test_rules_pod,
    test_rules_quota,
)

CASES = (test_rules_ns_rbac.CASES + test_rules_pod.CASES + test_rules_node_net.CASES
         + test_rules_mesh_vc.CASES + test_rules_cloud.CASES + test_rbac_effective.CASES
         + test_rules_quota.CASES + test_rules_node.CASES + test_rule_iso_adm_01.CASES)


def test_every_message_of_every_rule_is_seeded() -> None:
    seeded = {(c.rule, m) for c in CASES for m in c.expected}
    missing = []
    for info in pkgutil.iter_modules(policy.rules.__path__):
        module = importlib.import_module(f"policy.rules.{info.name}")
        for key, text in vars(module).items():
            if key.startswith("MSG_") and (module.RULE.id, text) not in seeded:
                missing.append(f"{module.RULE.id} {key}")
    assert missing == []


def test_case_ids_are_unique_across_tables() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))

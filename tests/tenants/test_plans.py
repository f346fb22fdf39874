"""The plan table: the shipped plans are valid; a bad plan is named field by field, in one line."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tenants.plans import PLANS_FILE, load_plans, parse_plans
from tenants.problems import RegistryInvalid

RAW = yaml.safe_load(PLANS_FILE.read_text(encoding="utf-8"))
TITAN_V2 = "amazon.titan-embed-text-v2:0"


def problems_of(raw: object) -> list[str]:
    with pytest.raises(RegistryInvalid) as caught:
        parse_plans(raw)
    return [str(p) for p in caught.value.problems]


def with_standard(**changes: object) -> dict:
    raw = copy.deepcopy(RAW)
    raw["standard"].update(changes)
    return raw


def test_every_shipped_plan_embeds_with_titan_v2_at_1024_dimensions():
    plans = load_plans()
    assert {(p.embedding_model, p.embedding_dimensions) for p in plans.values()} == {(TITAN_V2, 1024)}
    assert all(p.embedding_model not in p.llm_models for p in plans.values())


MODEL_ID = ("not a Bedrock foundation-model id: provider.model[:version], lowercase, "
            "e.g. 'amazon.titan-embed-text-v2:0'")

# (field changed in plan standard, bad value, the one problem expected)
INVALID = [
    ("embedding_model", "titan", f"plans.yaml: standard.embedding_model: {MODEL_ID} (got 'titan')"),
    ("embedding_model", "amazon.titan-embed-*", f"plans.yaml: standard.embedding_model: {MODEL_ID} "
     "(got 'amazon.titan-embed-*')"),
    ("embedding_model", f"arn:aws:bedrock:ap-northeast-1::foundation-model/{TITAN_V2}",
     f"plans.yaml: standard.embedding_model: {MODEL_ID} "
     "(got 'arn:aws:bedrock:ap-northeast-1::foundation-model/amazon....)"),
    ("embedding_model", "Amazon.Titan-Embed-Text-V2:0",
     f"plans.yaml: standard.embedding_model: {MODEL_ID} (got 'Amazon.Titan-Embed-Text-V2:0')"),
    ("embedding_model", 7, "plans.yaml: standard.embedding_model: Input should be a valid string (got 7)"),
    ("embedding_model", None,
     "plans.yaml: standard.embedding_model: Input should be a valid string (got None)"),
    ("embedding_dimensions", 0,
     "plans.yaml: standard.embedding_dimensions: Input should be greater than 0 (got 0)"),
    ("embedding_dimensions", -256,
     "plans.yaml: standard.embedding_dimensions: Input should be greater than 0 (got -256)"),
    ("embedding_dimensions", 3072,
     "plans.yaml: standard.embedding_dimensions: the chatbot's HNSW index covers at most 2000 dimensions "
     "of a vector column; choose a smaller embedding size (got 3072)"),
    ("embedding_dimensions", 16001,
     "plans.yaml: standard.embedding_dimensions: pgvector's vector type holds at most 16000 dimensions "
     "(got 16001)"),
    ("embedding_dimensions", "many",
     "plans.yaml: standard.embedding_dimensions: Input should be a valid integer, unable to parse string "
     "as an integer (got 'many')"),
    ("llm_models", ["anthropic.claude-3-haiku-20240307-v1:0", "anthropic.*"],
     f"plans.yaml: standard.llm_models.1: {MODEL_ID} (got 'anthropic.*')"),
]


@pytest.mark.parametrize(("field", "value", "problem"), INVALID,
                         ids=[f"{f}={v!r}"[:40] for f, v, _ in INVALID])
def test_rejects_each_bad_model_or_dimension_in_one_line(field, value, problem):
    assert problems_of(with_standard(**{field: value})) == [problem]


@pytest.mark.parametrize("dimensions", [1, 256, 512, 1024, 2000], ids=str)
def test_accepts_dimensions_an_hnsw_index_covers(dimensions):
    assert parse_plans(with_standard(embedding_dimensions=dimensions))["standard"].embedding_dimensions \
        == dimensions


@pytest.mark.parametrize("model", [TITAN_V2, "cohere.embed-multilingual-v3", "amazon.titan-embed-text-v1",
                                   "anthropic.claude-v2:1:200k"], ids=str)
def test_accepts_foundation_model_ids(model):
    assert parse_plans(with_standard(embedding_model=model))["standard"].embedding_model == model


def test_a_missing_embedding_model_is_named_for_every_plan():
    raw = copy.deepcopy(RAW)
    for spec in raw.values():
        del spec["embedding_model"]
    found = problems_of(raw)
    assert [p.split(" (got {")[0] for p in found] == [
        f"plans.yaml: {name}.embedding_model: Field required"
        for name in ("enterprise", "standard", "starter")]
    assert all("\n" not in p for p in found)


def test_collects_problems_of_every_plan_in_one_pass():
    raw = copy.deepcopy(RAW)
    raw["starter"]["embedding_dimensions"] = 4096
    raw["enterprise"]["embedding_model"] = "titan"
    raw["standard"]["extra"] = 1
    assert [p.split(":")[1].strip() for p in problems_of(raw)] == [
        "enterprise.embedding_model", "standard.extra", "starter.embedding_dimensions"]


@pytest.mark.parametrize(("raw", "problem"), [
    ([1, 2], "plans.yaml: (file): expected a mapping of plan name to plan spec (got [1, 2])"),
    ({"starter": "small"}, "plans.yaml: starter: expected a mapping of plan fields (got 'small')"),
    ({"starter": {**RAW["starter"], "name": "big"}},
     "plans.yaml: starter.name: a plan is named by its key in the table (got 'big')"),
], ids=["not-a-mapping", "plan-not-a-mapping", "name-inside-plan"])
def test_rejects_malformed_tables(raw, problem):
    assert problems_of(raw) == [problem]


def test_load_plans_names_the_file_it_read(tmp_path: Path):
    raw = with_standard(embedding_dimensions=4096)
    path = tmp_path / "other-plans.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(RegistryInvalid) as caught:
        load_plans(path)
    assert [str(p) for p in caught.value.problems] == [
        "other-plans.yaml: standard.embedding_dimensions: the chatbot's HNSW index covers at most 2000 "
        "dimensions of a vector column; choose a smaller embedding size (got 4096)"]


# --- fair shares: the quota and LimitRange of a plan -------------------------------------
def with_standard_in(section: str, **changes: object) -> dict:
    raw = copy.deepcopy(RAW)
    raw["standard"][section] = {**raw["standard"][section], **changes}
    return raw


def test_every_plan_budgets_limits_and_ephemeral_storage():
    for plan in load_plans().values():
        hard = plan.quota.hard()
        assert {"limits.cpu", "limits.memory", "requests.ephemeral-storage",
                "limits.ephemeral-storage"} <= set(hard)
        assert hard["services.nodeports"] == hard["services.loadbalancers"] == "0"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("limits_cpu", "1", "limits_cpu must be at least cpu"),
    ("limits_memory", "1Gi", "limits_memory must be at least memory"),
    ("limits_ephemeral_storage", "1Mi", "limits_ephemeral_storage must be at least ephemeral_storage"),
    ("ephemeral_storage", "lots", "is not a Kubernetes quantity"),
], ids=["cpu", "memory", "ephemeral", "not-a-quantity"])
def test_a_quota_whose_limits_are_below_its_requests_is_rejected(field, value, message):
    (problem,) = problems_of(with_standard_in("quota", **{field: value}))
    assert problem.startswith("plans.yaml: standard.quota") and message in problem


@pytest.mark.parametrize(("section", "changes", "message"), [
    ("limit_range", {"default": {"cpu": "8", "memory": "1Gi", "ephemeral_storage": "512Mi"}},
     "default cpu must not exceed max cpu"),
    ("limit_range", {"min": {"cpu": "1", "memory": "16Mi", "ephemeral_storage": "16Mi"}},
     "min cpu must not exceed default_request cpu"),
    ("limit_range", {"max": {"cpu": "8", "memory": "4Gi", "ephemeral_storage": "4Gi"}},
     "max cpu must not exceed pod_max cpu"),
    ("limit_range", {"pvc": {"min": "10Gi", "max": "1Gi"}}, "pvc.min must not exceed pvc.max"),
    ("limit_range", {"pod_max": {"cpu": "64", "memory": "5Gi", "ephemeral_storage": "6Gi"}},
     "pod_max cpu must not exceed the quota's limit on it"),
], ids=["default-above-max", "min-above-request", "container-above-pod", "pvc-bounds", "pod-above-quota"])
def test_limit_range_bounds_must_nest(section, changes, message):
    (problem,) = problems_of(with_standard_in(section, **changes))
    assert message in problem


def test_workloads_declare_ephemeral_storage():
    raw = copy.deepcopy(RAW)
    del raw["standard"]["chatbot"]["ephemeral_storage"]
    assert [p.split(" (got")[0] for p in problems_of(raw)] == [
        "plans.yaml: standard.chatbot.ephemeral_storage: Field required"]

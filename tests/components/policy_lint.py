"""Linting the platform's policy documents with parliament, and reading their ARNs.

Two documented accommodations, each proven by a test in ``test_iam_documents.py``:

- Key policies: ``"Resource": "*"`` is how a key policy says "this key" (it is attached to
  one key and cannot name its own ARN before the key exists). parliament reads every
  document as an identity policy and would call that RESOURCE_STAR, so key policies are
  linted with ``"*"`` replaced by what it stands for: the key's ARN, and for the alias
  operations (which AWS authorizes on the key *and* the alias) the tenant's alias ARN.
  Everything else (actions, condition keys and their types, principals) is linted as
  written.
- ``bedrock:InvokeModel`` acts on one of several resource types (foundation model,
  inference profile, provisioned model, ...). parliament treats every listed type as
  required, and also rejects the ``:`` of a model version (``...-v1:0``) in an ARN's
  resource part, so it reports RESOURCE_MISMATCH for any statement that grants only
  specific foundation models, which is exactly the least privilege we want. That one
  finding is dropped only when the statement's actions are ``bedrock:InvokeModel`` (and
  ``bedrock:InvokeModelWithResponseStream``, which acts on the same types) and every
  resource is an exact foundation-model ARN or an exact application inference profile
  ARN (the tenant's metered profiles, :mod:`components.token_budget`); any other finding
  fails.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import parliament

FOUNDATION_MODEL_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+::foundation-model/[A-Za-z0-9.:-]+$")
APPLICATION_PROFILE_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:application-inference-profile/[a-z0-9]+$")
BEDROCK_INVOKE = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
ARN_RE = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:[^\"\s,\]]+")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_bedrock_colon_mismatch(finding: Any, document: dict[str, Any]) -> bool:
    if finding.issue != "RESOURCE_MISMATCH":
        return False
    if not all(d.get("action") in BEDROCK_INVOKE for d in finding.detail):
        return False
    invoking = [s for s in document["Statement"]
                if _as_list(s.get("Action")) and set(_as_list(s.get("Action"))) <= set(BEDROCK_INVOKE)]
    return bool(invoking) and all(
        FOUNDATION_MODEL_ARN.match(r) or APPLICATION_PROFILE_ARN.match(r)
        for s in invoking for r in _as_list(s["Resource"]))


def findings(document: dict[str, Any] | str, *,
             key_resources: list[str] | None = None) -> list[tuple[str, Any]]:
    """parliament's findings (issue, detail) for a document.

    ``key_resources`` marks a key policy: the key's ARN and its alias ARN, which its
    ``"*"`` stands for.
    """
    doc = json.loads(document) if isinstance(document, str) else copy.deepcopy(document)
    if key_resources is not None:
        for statement in doc["Statement"]:
            if statement.get("Resource") == "*":
                statement["Resource"] = list(key_resources)
    policy = parliament.analyze_policy_string(json.dumps(doc))
    return [(f.issue, f.detail) for f in policy.findings if not _is_bedrock_colon_mismatch(f, doc)]


def raw_findings(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """parliament's findings with no accommodation at all."""
    return [(f.issue, f.detail) for f in parliament.analyze_policy_string(json.dumps(document)).findings]


def arns_in(document: dict[str, Any] | str) -> set[str]:
    """Every ARN a document mentions anywhere (resources, principals, conditions)."""
    text = document if isinstance(document, str) else json.dumps(document)
    return set(ARN_RE.findall(text))


def statements(document: dict[str, Any] | str) -> list[dict[str, Any]]:
    """The statements of a document given as JSON text or dict."""
    doc = json.loads(document) if isinstance(document, str) else document
    return list(doc["Statement"])


def allow_wildcards(document: dict[str, Any] | str) -> list[str]:
    """``*`` in the actions or resources of Allow statements (key policies' "this key" aside)."""
    found = []
    for statement in statements(document):
        if statement["Effect"] != "Allow":
            continue
        for action in _as_list(statement.get("Action", [])):
            if "*" in action:
                found.append(f"{statement.get('Sid')}: action {action}")
        if "NotAction" in statement or "NotResource" in statement:
            found.append(f"{statement.get('Sid')}: NotAction/NotResource")
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and "*" in json.dumps(principal)):
            found.append(f"{statement.get('Sid')}: wildcard principal")
        if principal is None:  # identity policy: resources must be exact
            found += [f"{statement.get('Sid')}: resource {r}"
                      for r in _as_list(statement.get("Resource", [])) if not exact_resource(r)]
    return found


def exact_resource(resource: str) -> bool:
    """An exact ARN; the only pattern allowed is a key prefix inside one named S3 bucket."""
    if "*" not in resource:
        return resource.startswith("arn:")
    match = re.match(r"^arn:aws[a-z-]*:s3:::([a-z0-9.-]+)/([^*]*)\*$", resource)
    return match is not None

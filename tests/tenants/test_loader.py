"""The registry loader: valid input resolves; every kind of mistake is named precisely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tenants.loader import load_registry
from tenants.plans import load_plans
from tenants.problems import RegistryInvalid

FIXTURES = Path(__file__).parent / "fixtures"
BASE = FIXTURES / "base"


def registry_with(tmp_path: Path, *overlays: Path) -> Path:
    """A copy of the base registry with the overlay files added."""
    target = tmp_path / "registry"
    shutil.copytree(BASE, target)
    for overlay in overlays:
        for f in overlay.iterdir():
            shutil.copy(f, target / f.name)
    return target


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(RegistryInvalid) as caught:
        load_registry(directory)
    return [str(p) for p in caught.value.problems]


# (fixture directory, file named in the problem, field, fragment of the message)
INVALID = [
    # Accounts, zones and quotas (tenants.accounts, tenants.regions, tenants.quotas).
    ("cluster-without-account", "solo.yaml", "account", "lives in its own AWS account"),
    ("account-on-shared-tier", "mixed.yaml", "(file)", "only cluster-tier tenants have their own account"),
    ("account-reused", "second.yaml", "account", "is already tenant first's"),
    ("account-is-platform", "insider.yaml", "account", "is the platform account's"),
    ("zone-unsupported-by-eks", "_platform.yaml", "availability_zones",
     "EKS does not create clusters in use1-az3"),
    ("zone-of-another-region", "_platform.yaml", "availability_zones", "'use1-az2' is not a zone ID of"),
    ("quota-exceeded", "_platform.yaml", "account_quotas.default.elastic_ips_per_region",
     "account 111111111111 in ap-northeast-1 would use 6 of its 5"),
    ("host-outside-hosted-zones", "stray.yaml", "hostname", "is in no hosted zone"),
    ("host-zone-in-another-account", "silo.yaml", "hostname",
     "its hosted zone files.test.example is in account 111111111111"),
    ("broken-yaml", "broken.yaml", "(file)", "invalid YAML"),
    ("empty-file", "empty.yaml", "(file)", "file is empty"),
    ("not-a-mapping", "listy.yaml", "(file)", "expected a mapping"),
    ("wrong-type", "typed.yaml", "features.fileserver", "valid boolean"),
    ("bad-id", "Bad_Id.yaml", "id", "3-30 characters, lowercase"),
    ("reserved-id", "kube-system.yaml", "id", "is reserved"),
    ("id-filename-mismatch", "alpha.yaml", "id", "rename to beta.yaml"),
    ("unknown-field", "extra.yaml", "quota", "unknown field; allowed fields are"),
    ("nested-unknown-field", "nested.yaml", "features.chatbots",
     "unknown field; allowed fields are ['chatbot', 'fileserver']"),
    ("duplicate-key", "twice.yaml", "(file)", "duplicate key 'plan' (first given on line 3)"),
    ("file-deleted-without-offboarding", "_allocations.yaml", "tenants.gone",
     "gone.yaml is gone: deleting a tenant file orphans its stack and data"),
    ("unknown-tier", "tiered.yaml", "tier", "'namespace', 'node', 'vcluster' or 'cluster'"),
    ("unknown-plan", "planned.yaml", "plan", "unknown plan; allowed plans are"),
    ("duplicate-id", "dup.yaml", "id", "duplicate tenant id, already defined in good.yaml"),
    ("malformed-cidr", "cidr.yaml", "network_cidr", "not an IPv4 network"),
    ("cidr-host-bits", "hostbits.yaml", "network_cidr", "has host bits set"),
    ("public-cidr", "public.yaml", "network_cidr", "not a private"),
    ("overlapping-cidr", "one.yaml", "network_cidr", "overlaps tenant two"),
    ("cidr-overlaps-cell", "cellnet.yaml", "network_cidr", "overlaps cell c1"),
    ("cidr-on-shared-tier", "sharednet.yaml", "(file)", "only cluster-tier tenants"),
    ("cell-on-cluster-tier", "clustercell.yaml", "(file)", "has its own cluster and no cell"),
    ("unknown-cell", "lost.yaml", "cell", "unknown cell; cells are"),
    ("node-tier-without-pools", "pooled.yaml", "tier", "does not allow dedicated node pools"),
    ("host-clash", "good.yaml", "hostname", "host name already used by"),
    ("bad-hostname", "hosty.yaml", "hostname", "is not a DNS name such as"),
    ("host-wildcard", "wild.yaml", "hostname", "no scheme, path, port or wildcard"),
    ("host-inside-host", "evil.yaml", "hostname",
     "is inside files.minato-bank.example, the host name of bank.yaml"),
    ("host-contains-host", "wide.yaml", "hostname",
     "contains evil.files.minato-bank.example, the host name of deep.yaml"),
    ("host-inside-default", "sneaky.yaml", "hostname",
     "is inside good.files.test.example, the host name of good.yaml"),
    ("host-reserved-default", "taker.yaml", "hostname",
     "future.files.test.example is the default of tenant 'future'; allowed: taker.files.test.example"),
    ("host-platform-domain", "domainer.yaml", "hostname", "is the platform domain files.test.example"),
    ("host-platform-apex", "apexer.yaml", "hostname", "contains the platform domain files.test.example"),
    ("host-case-clash", "mixed.yaml", "hostname", "host name already used by bank.yaml"),
    ("host-trailing-dot-clash", "dotted.yaml", "hostname", "host name already used by bank.yaml"),
    ("bad-region", "regional.yaml", "region", "should match pattern"),
    ("bad-label", "labelled.yaml", "(file)", "not a valid, non-reserved label key"),
    ("chatbot-without-fileserver", "botonly.yaml", "features", "needs fileserver: true"),
    ("yml-extension", "short.yml", "(file)", "tenant files end in .yaml"),
    ("cell-over-capacity", "_platform.yaml", "cells.c1", "over its capacity of 3"),
    ("runner-overlaps-cell", "_platform.yaml", "cells.vpc_cidr", "overlaps deploy runner of ap-northeast-1"),
    ("runner-bad-group", "_platform.yaml", "deploy_runners.ap-northeast-1.security_group_ids.0",
     "should match pattern"),
    ("image-missing", "_platform.yaml", "images.fileserver", "no released digest (sha256:<64 hex>)"),
    ("image-bad-digest", "_platform.yaml", "images.fileserver", "should match pattern"),
    ("runner-public-cidr", "_platform.yaml", "deploy_runners.ap-northeast-1.cidrs.0", "not a private"),
    ("runner-overlaps-tenant", "toolnet.yaml", "network_cidr", "overlaps deploy runner of ap-northeast-1"),
]


@pytest.mark.parametrize(("fixture", "file", "field", "fragment"), INVALID,
                         ids=[row[0] for row in INVALID])
def test_rejects_each_kind_of_mistake(tmp_path, fixture, file, field, fragment):
    problems = problems_of(registry_with(tmp_path, FIXTURES / "invalid" / fixture))
    matching = [p for p in problems if p.startswith(f"{file}: {field}: ") and fragment in p]
    assert matching, f"no problem for {file} {field} containing {fragment!r}; got {problems}"


def test_every_invalid_fixture_is_covered():
    assert {row[0] for row in INVALID} == {p.name for p in (FIXTURES / "invalid").iterdir()}


@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("binary.yaml", b"\x00\x01\x02\xffjunk", "not UTF-8"),
    ("nul.yaml", b"id: nul\x00\n", "binary"),
    ("huge.yaml", b"id: huge\n" + b"# padding\n" * 10_000, "larger than"),
    ("deep.yaml", b"a: " + b"[" * 5000 + b"]" * 5000, "nested too deeply"),
], ids=["binary-junk", "nul-byte", "huge-file", "deep-nesting"])
def test_rejects_hostile_files_without_traceback(tmp_path, name, content, fragment):
    directory = registry_with(tmp_path)
    (directory / name).write_bytes(content)
    problems = problems_of(directory)
    assert any(p.startswith(f"{name}: (file): ") and fragment in p for p in problems), problems


def test_problem_names_file_field_value_and_allowed(tmp_path):
    problems = problems_of(registry_with(tmp_path, FIXTURES / "invalid" / "unknown-plan"))
    assert problems == ["planned.yaml: plan: unknown plan; allowed plans are "
                        "['enterprise', 'standard', 'starter'] (got 'platinum')"]


def test_collects_every_problem_in_one_pass(tmp_path):
    directory = registry_with(tmp_path, FIXTURES / "invalid" / "unknown-plan",
                              FIXTURES / "invalid" / "bad-id", FIXTURES / "invalid" / "unknown-cell")
    files = {p.split(":")[0] for p in problems_of(directory)}
    assert files == {"planned.yaml", "Bad_Id.yaml", "lost.yaml"}


def test_missing_directory_is_a_problem(tmp_path):
    assert "registry directory does not exist" in problems_of(tmp_path / "nope")[0]


def test_rejects_plan_whose_quota_is_below_its_workloads(tmp_path):
    plans = load_plans()
    tight = plans["starter"].model_copy(
        update={"quota": plans["starter"].quota.model_copy(update={"cpu": "100m"})})
    with pytest.raises(RegistryInvalid) as caught:
        load_registry(registry_with(tmp_path), plans={**plans, "starter": tight})
    assert [str(p) for p in caught.value.problems] == [
        "good.yaml: plan: quota cpu 0.1 of plan 'starter' is below the 1 the tenant requests at "
        "maximum scale, plus rollout surge (its workloads, one mesh proxy per pod): choose a larger "
        "plan or turn a feature off (got 'starter')"]


def test_resolves_defaults(tmp_path):
    registry = load_registry(registry_with(tmp_path))
    good = registry.tenant("good")
    assert (good.cell, good.region, good.hostname, good.display_name) == (
        "c1", "ap-northeast-1", "good.files.test.example", "good")
    assert good.record.features.fileserver and good.record.features.chatbot
    assert registry.new_allocations == {"good": {"cell": "c1"}}


def test_sample_fleet_is_valid_and_fully_recorded():
    registry = load_registry()
    assert len(registry.tenants) >= 8
    assert {t.tier.value for t in registry.tenants} == {"namespace", "node", "vcluster", "cluster"}
    assert {t.plan.name for t in registry.tenants} == {"starter", "standard", "enterprise"}
    assert registry.new_allocations == {}


def test_images_are_required_only_for_workloads_some_tenant_runs(tmp_path):
    directory = registry_with(tmp_path)
    (directory / "good.yaml").write_text("id: good\ntier: namespace\nplan: standard\n"
                                         "features: {fileserver: true, chatbot: false}\n")
    platform = (directory / "_platform.yaml").read_text()
    (directory / "_platform.yaml").write_text(platform[:platform.index("  chatbot:")])
    registry = load_registry(directory)
    assert registry.settings.image_digests() == {"fileserver": "sha256:" + "1" * 64}


def write_tenant(directory: Path, tenant_id: str, hostname: str | None = None) -> None:
    """A namespace-tier tenant file, with an explicit host name when one is given."""
    text = f"id: {tenant_id}\ntier: namespace\nplan: starter\n"
    (directory / f"{tenant_id}.yaml").write_text(text + (f"hostname: '{hostname}'\n" if hostname else ""))


def test_host_inside_another_is_one_line_on_the_later_file(tmp_path):
    problems = problems_of(registry_with(tmp_path, FIXTURES / "invalid" / "host-inside-host"))
    assert problems == [
        "evil.yaml: hostname: host name is inside files.minato-bank.example, the host name of "
        "bank.yaml; a tenant's host name may not equal, lie inside or contain another tenant's "
        "(got 'evil.files.minato-bank.example')"]


def test_host_inside_another_tenants_default_host_names_both_problems(tmp_path):
    problems = problems_of(registry_with(tmp_path, FIXTURES / "invalid" / "host-inside-default"))
    assert len(problems) == 2, problems
    assert all(p.startswith("sneaky.yaml: hostname: ") for p in problems), problems
    assert any("under the platform domain files.test.example" in p and "tenant 'good'" in p
               for p in problems), problems


@pytest.mark.parametrize(("first", "second"), [
    ("files.minato-bank.example", "evil.files.minato-bank.example"),
    ("evil.files.minato-bank.example", "files.minato-bank.example"),
    ("a.b.minato-bank.example", "minato-bank.example"),
    ("files.minato-bank.example", "Files.Minato-Bank.Example."),
    ("files.minato-bank.example.", "EVIL.files.minato-bank.example"),
], ids=["inside", "contains", "two-levels-above", "case-and-dot-equal", "case-and-dot-inside"])
def test_nested_hosts_are_rejected_in_either_order(tmp_path, first, second):
    directory = registry_with(tmp_path)
    write_tenant(directory, "aaa", first)
    write_tenant(directory, "zzz", second)
    problems = problems_of(directory)
    assert len(problems) == 1 and problems[0].startswith("zzz.yaml: hostname: "), problems
    assert "aaa.yaml" in problems[0], problems


@pytest.mark.parametrize("neighbour", [
    "files.minato-bank.example.attacker",   # a different name: the suffix is not a label
    "xfiles.minato-bank.example",           # sibling label sharing a string suffix
    "minato-bank.example.files.example",    # the owner's name as a prefix, not a parent
    "other.minato-bank.example",            # sibling under a common parent
], ids=["suffix-label", "string-suffix", "prefix", "sibling"])
def test_names_that_are_not_inside_each_other_are_accepted(tmp_path, neighbour):
    directory = registry_with(tmp_path)
    write_tenant(directory, "bank", "files.minato-bank.example")
    write_tenant(directory, "next", neighbour)
    registry = load_registry(directory)
    assert registry.tenant("next").hostname == neighbour


def test_a_tenant_may_name_its_own_default_host(tmp_path):
    directory = registry_with(tmp_path)
    write_tenant(directory, "own", "OWN.files.test.example.")
    assert load_registry(directory).tenant("own").hostname == "own.files.test.example"


def test_host_names_and_the_platform_domain_are_normalised(tmp_path):
    directory = registry_with(tmp_path)
    platform = directory / "_platform.yaml"
    platform.write_text(platform.read_text().replace("domain: files.test.example",
                                                     "domain: Files.TEST.example."))
    write_tenant(directory, "upper", "Files.Minato-Bank.EXAMPLE.")
    registry = load_registry(directory)
    assert registry.settings.domain == "files.test.example"
    assert registry.tenant("good").hostname == "good.files.test.example"
    assert registry.tenant("upper").hostname == "files.minato-bank.example"


def test_a_hosts_zone_is_the_longest_listed_domain_it_is_in_at_a_dot() -> None:
    from tenants.models import HostedZone, PlatformSettings
    parent = HostedZone(domain="files.example.com", zone_id="Z0PARENT")
    child = HostedZone(domain="acme.files.example.com", zone_id="Z0CHILD", account="210987654321")
    settings = PlatformSettings(platform_account="123456789012", hosted_zones=(parent, child))
    assert settings.zone_of("files.example.com") == parent
    assert settings.zone_of("www.acme.files.example.com") == child
    assert settings.zone_of("acme.files.example.com", "123456789012") == parent  # its own account's
    assert settings.zone_of("evilfiles.example.com") is None  # a suffix, but not at a dot
    assert settings.zone_of("xacme.files.example.com") == parent
    assert settings.zone_of("example.com") is None

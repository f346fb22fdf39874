"""The boto3 object copier against moto's S3 and KMS: encryption, parts, resume, verification.

Both buckets are set up as ``components.storage.TenantBucket`` sets up a files bucket
(versioned, SSE-KMS by default with the tenant's own key and a Bucket Key). moto does not
evaluate bucket policies, so every write request is checked against the Deny statements of
the real ``files_bucket_policy`` document by a botocore hook: a write the target bucket's
policy would deny fails the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from components import iam_documents as docs
from tenantctl import migrate
from tenantctl import migrate_plan as mp
from tenantctl import migrate_steps as ms
from tenantctl import object_copy as oc
from tenantctl.schema_copy import CopyReport
from tenants import aws_limits as limits
from tenants import naming
from tenants.loader import load_registry
from tenants.migration import Target
from tenants.models import Tier
from tests.tenantctl.migrate_support import CLUSTER_ACCOUNT, SOURCE_DSN, TARGET_DSN, walk_registry

PARTITION = "aws"

REGION = "ap-northeast-1"
SOURCE, TARGET = "tp-prod-alpha-files", "tp-prod-alpha-files-g2"
#: Operations S3 authorizes as s3:PutObject that carry the encryption headers.
WRITES = ("PutObject", "CopyObject", "CreateMultipartUpload")


class Account:
    """A moto account holding both buckets, their keys and a client whose writes obey the policy."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        self.keys = {b: kms.create_key(Description=b)["KeyMetadata"]["Arn"] for b in (SOURCE, TARGET)}
        for bucket, key in self.keys.items():
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            self.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                "BucketKeyEnabled": True}]})
        self.raw = boto3.client("s3", region_name=REGION,  # past the hooks, and adding no checksum
                                config=Config(request_checksum_calculation="when_required"))
        self.writes: list[tuple[str, dict[str, Any]]] = []
        for op in WRITES:
            self.s3.meta.events.register(f"before-parameter-build.s3.{op}", self._obey_policy(op))
        self.failures: dict[str, int] = {}  # operation -> the call number that fails
        self.calls: dict[str, int] = {}
        self.s3.meta.events.register("before-call.s3.*", self._maybe_fail)

    def _obey_policy(self, op: str) -> Any:
        def hook(params: dict[str, Any], **_: Any) -> None:
            bucket = params["Bucket"]
            policy = docs.files_bucket_policy(bucket=docs.bucket_arn(PARTITION, bucket),
                                              key_arn=self.keys[bucket],
                                              tenant_role_arns=["arn:aws:iam::1:role/t"],
                                              deployer_role_arn="arn:aws:iam::1:role/d")
            headers = {"s3:x-amz-server-side-encryption": params.get("ServerSideEncryption"),
                       "s3:x-amz-server-side-encryption-aws-kms-key-id": params.get("SSEKMSKeyId")}
            for statement in policy["Statement"]:
                if statement["Effect"] == "Deny" and statement["Action"] == "s3:PutObject":
                    for _operator, condition in statement["Condition"].items():  # ...NotEquals...IfExists
                        for name, wanted in condition.items():
                            # A Deny with a negated ...IfExists operator also denies a missing header.
                            assert headers[name] == wanted, f"{op} to {bucket}: the bucket policy denies it"
            self.writes.append((op, dict(params)))
        return hook

    def _maybe_fail(self, model: Any, **_: Any) -> None:
        self.calls[model.name] = self.calls.get(model.name, 0) + 1
        if self.failures.get(model.name) == self.calls[model.name]:
            raise ConnectionError(f"injected failure of {model.name}")

    def put(self, bucket: str, key: str, body: bytes, **extra: Any) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms",
                           SSEKMSKeyId=self.keys[bucket], **extra)

    def head(self, bucket: str, key: str) -> dict[str, Any]:
        return dict(self.s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))

    def body(self, bucket: str, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield Account()


def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copy in parts above 6 MiB, in 5 MiB parts (the code's threshold is the real 5 GiB)."""
    monkeypatch.setattr(oc, "COPY_OBJECT_MAX_BYTES", 6 * limits.MIB)
    monkeypatch.setattr(oc, "DEFAULT_PART_BYTES", limits.S3_PART_MIN_BYTES)


def test_the_copy_limits_are_s3s():
    assert oc.COPY_OBJECT_MAX_BYTES == limits.S3_COPY_OBJECT_MAX_BYTES == 5 * 1024 ** 3
    for size in (limits.S3_COPY_OBJECT_MAX_BYTES + 1, 5 * limits.TIB, limits.S3_MAX_OBJECT_BYTES):
        part = oc.part_size(size)
        assert limits.S3_PART_MIN_BYTES <= part <= limits.S3_PART_MAX_BYTES
        assert -(-size // part) <= limits.S3_MAX_PARTS, size
    with pytest.raises(oc.ObjectCopyError, match="maximum object size"):
        oc.part_size(limits.S3_MAX_OBJECT_BYTES + 1)


def test_copies_are_encrypted_with_the_target_key_and_keep_metadata(account: Account):
    account.put(SOURCE, "files/a.txt", b"hello", ContentType="text/plain", Metadata={"owner": "alpha"})
    account.put(SOURCE, "files/b.bin", b"\x00" * 100)
    report = oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert report.ok and report.copied == 2 and report.target_key == account.keys[TARGET]
    for key in ("files/a.txt", "files/b.bin"):
        head = account.head(TARGET, key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", account.keys[TARGET])
        assert head.get("BucketKeyEnabled") is True
        assert account.body(TARGET, key) == account.body(SOURCE, key)
    head = account.head(TARGET, "files/a.txt")
    assert (head["ContentType"], head["Metadata"]) == ("text/plain", {"owner": "alpha"})
    copies = [params for op, params in account.writes if op == "CopyObject"]
    assert len(copies) == 2 and all("versionId=" in str(p["CopySource"]) for p in copies)  # pinned
    assert report.content_compared == 2 and report.size_only == 0


def test_a_target_bucket_without_the_tenant_key_is_refused(account: Account):
    account.put(SOURCE, "files/a.txt", b"hello")
    account.s3.put_bucket_encryption(Bucket=TARGET, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    with pytest.raises(oc.ObjectCopyError, match="customer-managed KMS key"):
        oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert not account.writes[1:]  # the seeding put only: nothing was copied


def test_large_objects_are_copied_in_parts_and_compared(account: Account, monkeypatch: pytest.MonkeyPatch):
    small_parts(monkeypatch)
    big = os.urandom(11 * limits.MIB + 3)
    account.put(SOURCE, "files/big.iso", big, ContentType="application/x-iso9660-image",
                Metadata={"k": "v"}, ChecksumAlgorithm="CRC32")
    account.put(SOURCE, "files/big-sha.iso", big[::-1], ChecksumAlgorithm="SHA256")
    account.put(SOURCE, "files/small.txt", b"small")
    report = oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert report.ok and (report.copied, report.multipart) == (3, 2), report
    assert account.body(TARGET, "files/big.iso") == big
    assert account.body(TARGET, "files/big-sha.iso") == big[::-1]
    head = account.head(TARGET, "files/big.iso")
    assert head["SSEKMSKeyId"] == account.keys[TARGET] and head["ETag"].endswith('-3"')  # 3 parts
    assert (head["ContentType"], head["Metadata"]) == ("application/x-iso9660-image", {"k": "v"})
    assert head["ChecksumCRC32"] == account.head(SOURCE, "files/big.iso")["ChecksumCRC32"]
    # A SHA-256 over parts is composite: that object is compared by size only, and says so.
    assert (report.content_compared, report.size_only) == (2, 1)
    parts = [p for op, p in account.writes if op == "CreateMultipartUpload"]
    assert parts and all((p["ServerSideEncryption"], p["SSEKMSKeyId"]) == ("aws:kms", account.keys[TARGET])
                         for p in parts)


def test_a_failed_part_aborts_the_upload(account: Account, monkeypatch: pytest.MonkeyPatch):
    small_parts(monkeypatch)
    account.put(SOURCE, "files/big.iso", os.urandom(11 * limits.MIB))
    account.failures["UploadPartCopy"] = 2
    with pytest.raises(ConnectionError):
        oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert not account.s3.list_multipart_uploads(Bucket=TARGET).get("Uploads")
    assert "Contents" not in account.s3.list_objects_v2(Bucket=TARGET)


def test_a_rerun_after_a_failure_copies_only_the_rest(account: Account):
    files = {f"files/{i}.txt": f"content {i}".encode() for i in range(5)}
    for key, body in files.items():
        account.put(SOURCE, key, body)
    account.failures["CopyObject"] = 3
    with pytest.raises(ConnectionError):
        oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert len(account.s3.list_objects_v2(Bucket=TARGET)["Contents"]) == 2
    account.failures.clear()
    report = oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert report.ok and (report.skipped, report.copied) == (2, 3)
    assert {k: account.body(TARGET, k) for k in files} == files
    again = oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert again.ok and (again.skipped, again.copied) == (5, 0)


def test_a_source_object_changed_since_the_copy_is_copied_again(account: Account):
    account.put(SOURCE, "files/a.txt", b"first")
    oc.copy_objects(SOURCE, TARGET, client=account.s3)
    account.put(SOURCE, "files/a.txt", b"later")  # same size, new content
    report = oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert report.ok and report.copied == 1 and account.body(TARGET, "files/a.txt") == b"later"


def test_verify_catches_corrupted_and_wrongly_encrypted_copies(account: Account):
    for key in ("files/a.txt", "files/b.txt", "files/c.txt"):
        account.put(SOURCE, key, b"original", ChecksumAlgorithm="SHA256")
    assert oc.copy_objects(SOURCE, TARGET, client=account.s3).ok
    assert oc.verify_objects(SOURCE, TARGET, client=account.s3).ok
    account.put(TARGET, "files/a.txt", b"tampered", ChecksumAlgorithm="SHA256")  # same size
    # Written past the policy (moto's raw client): what verify must catch however it got there.
    account.raw.put_object(Bucket=TARGET, Key="files/b.txt", Body=b"original", ServerSideEncryption="AES256")
    report = oc.verify_objects(SOURCE, TARGET, client=account.s3)
    assert not report.ok and report.problem_count == 2
    assert (report.source_objects, report.source_bytes, report.source_checksum) == (
        report.target_objects, report.target_bytes, report.target_checksum)  # key+size would miss it
    assert "files/a.txt: SHA256 checksum differs" in report.problems
    assert "files/b.txt: encrypted with AES256, not the target key" in report.problems
    assert "content 'files:" not in " ".join(ms.mismatches(report.as_json()))
    assert any(m.startswith("content ") for m in ms.mismatches(report.as_json()))  # what verify names


def test_objects_without_a_checksum_are_compared_by_size_and_counted(account: Account):
    account.raw.put_object(Bucket=SOURCE, Key="files/old.txt", Body=b"uploaded long ago",
                           ServerSideEncryption="aws:kms", SSEKMSKeyId=account.keys[SOURCE])
    assert oc.full_checksum(account.head(SOURCE, "files/old.txt")) is None
    report = oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert report.ok and (report.content_compared, report.size_only) == (0, 1)


def test_an_empty_bucket_copies_nothing_and_compares_equal(account: Account):
    report = oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert report.ok and (report.copied, report.source_objects, report.target_objects) == (0, 0, 0)
    account.put(TARGET, "files/stray.txt", b"x")
    extra = oc.verify_objects(SOURCE, TARGET, client=account.s3)
    assert not extra.ok and extra.problems == ("files/stray.txt: not in the source",)


def test_more_objects_than_one_listing_page(account: Account):
    count = limits.S3_LIST_PAGE_MAX_KEYS + 5
    backend = s3_backends[DEFAULT_ACCOUNT_ID][PARTITION]  # seeding through moto's model: fast
    for i in range(count):
        backend.put_object(SOURCE, f"files/{i:05}", b"%d" % i, encryption="aws:kms",
                           kms_key_id=account.keys[SOURCE], bucket_key_enabled=True)
    report = oc.copy_objects(SOURCE, TARGET, client=account.s3)
    assert report.ok and report.copied == report.target_objects == count


def test_verify_reads_the_buckets_again_not_the_copys_report():
    assert callable(getattr(migrate.default_object_copier(), "verify", None))


def test_the_verify_step_reads_both_buckets_again(account: Account, tmp_path):
    """A target changed after copy-data fails ``verify``, although the copy's report said ok."""
    registry = walk_registry(tmp_path / "registry")
    move = mp.decide(load_registry(registry), "alpha", Target(Tier.CLUSTER, account=CLUSTER_ACCOUNT), "prod")
    state = ms.State(tmp_path / "alpha.json", move)
    copier = oc.S3Copier(account.s3)
    account.put(SOURCE, "files/a.txt", b"original", ChecksumAlgorithm="SHA256")
    copied = ms.report_json(copier(SOURCE, TARGET))
    state.steps["copy-data"]["detail"] = {"files": {"source_bucket": SOURCE, "target_bucket": TARGET,
                                                    "report": copied}}
    schema = naming.db_schema_name("alpha")
    services = ms.Services(registry=registry, work_dir=tmp_path / "work", copy_objects=copier,
                           verify_schema=lambda *_a, **_k: CopyReport(schema, schema, (), ()),
                           source_dsn=SOURCE_DSN, target_dsn=TARGET_DSN)
    assert ms.run_step("verify", state, services)["files"]["ok"]
    account.put(TARGET, "files/a.txt", b"tampered", ChecksumAlgorithm="SHA256")
    with pytest.raises(ms.StepFailed, match="files: files/a.txt: SHA256 checksum differs"):
        ms.run_step("verify", state, services)

"""Copy a tenant's files from one S3 bucket to another, and compare both (boto3).

A move between stacks gives the target a bucket of a new name (a bucket cannot change
account, and bucket names are global): every current object version is copied
server-side, then both buckets are read again and compared. What a real account needs:

- **Encryption.** The target's files bucket policy (``iam_documents.files_bucket_policy``)
  denies a ``PutObject`` (which ``CopyObject``, ``CreateMultipartUpload`` and
  ``UploadPartCopy`` are authorized as) unless the request says
  ``x-amz-server-side-encryption: aws:kms`` *and*
  ``x-amz-server-side-encryption-aws-kms-key-id: <the target's key ARN>`` (both conditions
  are ``...IfExists`` in a Deny: a missing header is denied too). So every copy sends both,
  with the key the target stack declared as the bucket's default encryption (read with
  ``GetBucketEncryption``; an SSE-S3 or AWS-managed default is refused), and an S3 Bucket
  Key as the bucket uses. The source key is never named: S3 decrypts with it on the read.
- **Size.** ``CopyObject`` copies at most 5 GiB; a larger object is copied in parts
  (``CreateMultipartUpload`` + ``UploadPartCopy`` of byte ranges + ``Complete``), the part
  size chosen so that the largest S3 object fits 10,000 parts; a failed part aborts the
  upload. Limits: :mod:`tenants.aws_limits`.
- **Resumable.** An object the target already holds identically (same size, content
  type and metadata, encrypted under the target key, and the same full-object checksum,
  or, where the source has none, a target copy newer than the source) is skipped, so a
  rerun after a failure copies only the rest.
- **Metadata and tags.** ``CopyObject`` keeps metadata, content headers and tags
  (``MetadataDirective``/``TaggingDirective`` ``COPY``, the defaults); a multipart copy
  sends the source's headers and metadata itself. The platform writes no object tags (no
  role holds ``s3:PutObjectTagging``), so a multipart copy reads tags only to refuse
  losing them.
- **Verification.** Besides keys and sizes, each object's content is compared by the
  full-object checksum S3 keeps (``HeadObject`` with ``ChecksumMode``): the copy asks S3
  for the source's algorithm (SHA-256 when the source has none), so both sides carry
  comparable checksums. ETags are not compared: under SSE-KMS an ETag is no MD5 of the
  content, and a multipart ETag depends on the part layout. A source object with no
  full-object checksum (one uploaded before S3 added default checksums, or with a composite
  one) can only be compared by size; the report counts those (``size_only``).

The credentials (``client``) must read the source and write the target: the copier role,
which both buckets and keys grant only while the tenant is moving (docs/migration.md,
"Permissions of the copy").
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenants import aws_limits as limits

#: Full-object checksum algorithms S3 reports, strongest first; the copy keeps the source's.
CHECKSUMS = ("SHA256", "SHA1", "CRC64NVME", "CRC32C", "CRC32")
#: Algorithms S3 can combine into a full-object checksum of a multipart upload.
FULL_OBJECT_MULTIPART = ("CRC64NVME", "CRC32C", "CRC32")
#: What a multipart copy carries over from the source's ``HeadObject`` (CopyObject does it itself).
HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage",
           "Expires", "Metadata")
#: Parts a multipart copy uses at least (fewer, larger requests for objects just over 5 GiB).
DEFAULT_PART_BYTES = 512 * limits.MIB
#: Problems a report lists by name (the counts still cover every object).
MAX_PROBLEMS = 20
#: ``CopyObject`` up to this size, a multipart copy above it (tests lower it, never the code).
COPY_OBJECT_MAX_BYTES = limits.S3_COPY_OBJECT_MAX_BYTES


class ObjectCopyError(Exception):
    """The copy cannot be done as asked (the target bucket's encryption, an object too large)."""


@dataclass(frozen=True)
class ObjectCopyReport:
    """What was copied, and both buckets' contents compared."""

    source_bucket: str
    target_bucket: str
    copied: int
    source_objects: int
    target_objects: int
    source_bytes: int
    target_bytes: int
    #: SHA-256 over the sorted ``key size`` lines of each bucket.
    source_checksum: str
    target_checksum: str
    #: SHA-256 over the sorted ``key algorithm checksum`` lines of the objects whose content
    #: was compared (the source's full-object checksum and the target's of the same algorithm).
    source_content: str = ""
    target_content: str = ""
    #: Objects already copied identically (a resumed copy skips them), copied in parts,
    #: compared by content checksum, and compared by size only (the source has no checksum).
    skipped: int = 0
    multipart: int = 0
    content_compared: int = 0
    size_only: int = 0
    #: The key the target's objects must be encrypted with (the target bucket's default).
    target_key: str = ""
    #: What differs, by key (at most :data:`MAX_PROBLEMS`; ``problem_count`` counts all).
    problems: tuple[str, ...] = field(default=())
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        """Both buckets hold the same keys, sizes and contents, every copy under the target key."""
        return (self.source_objects, self.source_bytes, self.source_checksum, self.source_content) == (
            self.target_objects, self.target_bytes, self.target_checksum, self.target_content
        ) and not self.problem_count

    def as_json(self) -> dict[str, Any]:
        """For the migration's state file (``verify`` compares the ``source_``/``target_`` pairs)."""
        return {"ok": self.ok, "copied": self.copied, "source_objects": self.source_objects,
                "target_objects": self.target_objects, "source_bytes": self.source_bytes,
                "target_bytes": self.target_bytes, "source_checksum": self.source_checksum,
                "target_checksum": self.target_checksum, "source_content": self.source_content,
                "target_content": self.target_content, "skipped": self.skipped,
                "multipart": self.multipart, "content_compared": self.content_compared,
                "size_only": self.size_only, "target_key": self.target_key,
                "problems": list(self.problems), "problem_count": self.problem_count}


# --- what S3 says about an object ------------------------------------------------------------
def full_checksum(head: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(algorithm, value)`` of an object's full-object checksum, or None (none, or composite)."""
    for algorithm in CHECKSUMS:
        value = head.get(f"Checksum{algorithm}")
        if value:
            kind = head.get("ChecksumType") or ("COMPOSITE" if "-" in str(value) else "FULL_OBJECT")
            return (algorithm, str(value)) if kind == "FULL_OBJECT" else None
    return None


def comparable_checksum(head: Mapping[str, Any]) -> tuple[str, str] | None:
    """The source's full-object checksum if its copy keeps one of the same algorithm, else None.

    A ``CopyObject`` keeps any algorithm; a multipart copy only a CRC (S3 combines those into a
    full-object checksum; a SHA over parts is composite, comparable to nothing of the source).
    """
    mine = full_checksum(head)
    if mine and (int(head["ContentLength"]) <= COPY_OBJECT_MAX_BYTES or mine[0] in FULL_OBJECT_MULTIPART):
        return mine
    return None


def _headers(head: Mapping[str, Any]) -> dict[str, Any]:
    return {name: head[name] for name in HEADERS if head.get(name) not in (None, "", {})}


def _encryption_problem(head: Mapping[str, Any], key_arn: str) -> str | None:
    if head.get("ServerSideEncryption") != "aws:kms":
        return f"encrypted with {head.get('ServerSideEncryption') or 'nothing'}, not the target key"
    if head.get("SSEKMSKeyId") != key_arn:
        return f"encrypted with key {head.get('SSEKMSKeyId')}, not the target key"
    return None


def _difference(source: Mapping[str, Any], target: Mapping[str, Any], key_arn: str) -> str | None:
    """Why ``target`` is not an identical copy of ``source`` (None: it is)."""
    if source["ContentLength"] != target["ContentLength"]:
        return f"size {source['ContentLength']} != {target['ContentLength']}"
    if _headers(source) != _headers(target):
        return "content type or metadata differ"
    problem = _encryption_problem(target, key_arn)
    if problem:
        return problem
    mine = comparable_checksum(source)
    if mine is None:  # nothing to compare content by: a copy made after the source was written
        return None if target["LastModified"] >= source["LastModified"] else "older than its source"
    theirs = target.get(f"Checksum{mine[0]}")
    return None if theirs == mine[1] else f"{mine[0]} checksum differs"


def target_key(client: Any, bucket: str) -> str:
    """The KMS key ARN the target bucket's default encryption names (what its policy demands)."""
    rules = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        key = str(default.get("KMSMasterKeyID") or "")
        if default.get("SSEAlgorithm") == "aws:kms" and key.startswith("arn:") and ":key/" in key:
            return key
    raise ObjectCopyError(f"bucket {bucket} is not encrypted by default with a customer-managed KMS key "
                          "(by ARN): its stack must declare SSE-KMS with the tenant's key before the copy")


# --- copying ---------------------------------------------------------------------------------
def part_size(size: int) -> int:
    """Bytes per part of a multipart copy of ``size`` bytes: at most 10,000 parts, each 5 MiB..5 GiB."""
    if size > limits.S3_MAX_OBJECT_BYTES:
        raise ObjectCopyError(f"an object of {size} bytes exceeds S3's maximum object size")
    needed = -(-size // limits.S3_MAX_PARTS)  # ceiling
    needed = -(-needed // limits.MIB) * limits.MIB  # whole MiB
    return min(limits.S3_PART_MAX_BYTES, max(limits.S3_PART_MIN_BYTES, DEFAULT_PART_BYTES, needed))


def _encryption(key_arn: str) -> dict[str, Any]:
    # Exactly what the target bucket policy demands of every PutObject (module docstring).
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn, "BucketKeyEnabled": True}


def _copy_single(client: Any, source: dict[str, str], bucket: str, key: str, head: Mapping[str, Any],
                 key_arn: str) -> None:
    mine = full_checksum(head)
    client.copy_object(Bucket=bucket, Key=key, CopySource=source, **_encryption(key_arn),
                       ChecksumAlgorithm=mine[0] if mine else "SHA256")


def _copy_multipart(client: Any, source: dict[str, str], bucket: str, key: str, head: Mapping[str, Any],
                    key_arn: str) -> None:
    size = int(head["ContentLength"])
    tags = client.get_object_tagging(**source)  # Bucket, Key and the pinned VersionId
    if tags.get("TagSet"):
        raise ObjectCopyError(f"{source['Bucket']}/{key} has object tags, which a multipart copy would "
                              "drop and the platform never writes: remove them or copy the object by hand")
    mine = full_checksum(head)
    expected: dict[str, str] = {}
    if mine and mine[0] in FULL_OBJECT_MULTIPART:  # comparable with the source afterwards
        checksum = {"ChecksumAlgorithm": mine[0], "ChecksumType": "FULL_OBJECT"}
        # S3 combines the parts' CRCs and refuses the upload unless they make the source's.
        expected = {f"Checksum{mine[0]}": mine[1], "ChecksumType": "FULL_OBJECT"}
    else:  # per-part SHA-256: S3 still checks every part, the object's checksum is composite
        checksum = {"ChecksumAlgorithm": "SHA256"}
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, **_encryption(key_arn), **checksum,
                                            **_headers(head))["UploadId"]
    try:
        step, parts = part_size(size), []
        for number, start in enumerate(range(0, size, step), start=1):
            result = client.upload_part_copy(
                Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, CopySource=source,
                CopySourceRange=f"bytes={start}-{min(start + step, size) - 1}")["CopyPartResult"]
            parts.append({"PartNumber": number, "ETag": result["ETag"],
                          **{k: v for k, v in result.items() if k.startswith("Checksum")}})
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                         MultipartUpload={"Parts": parts}, **expected)
    except BaseException:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        raise


def _listing(client: Any, bucket: str) -> Iterator[tuple[str, int]]:
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": limits.S3_LIST_PAGE_MAX_KEYS}):
        for item in page.get("Contents", ()):
            yield item["Key"], int(item["Size"])


def _head(client: Any, bucket: str, key: str) -> dict[str, Any]:
    return dict(client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(f"{line}\n" for line in sorted(lines)).encode()).hexdigest()


@dataclass
class S3Copier:
    """``copy_objects``/``verify_objects`` over one boto3 client (default: ``boto3.client("s3")``)."""

    client: Any = None

    def _s3(self) -> Any:
        if self.client is None:
            import boto3  # only a real migration needs it

            self.client = boto3.client("s3")
        return self.client

    def __call__(self, source_bucket: str, target_bucket: str) -> ObjectCopyReport:
        """Copy every object of ``source_bucket`` not yet copied identically; compare the two."""
        client = self._s3()
        key_arn = target_key(client, target_bucket)
        existing = dict(_listing(client, target_bucket))
        copied = skipped = multipart = 0
        heads: dict[str, dict[str, Any]] = {}
        for key, _size in sorted(_listing(client, source_bucket)):
            head = heads[key] = _head(client, source_bucket, key)
            if key in existing and _difference(head, _head(client, target_bucket, key), key_arn) is None:
                skipped += 1
                continue
            source = {"Bucket": source_bucket, "Key": key,
                      **({"VersionId": head["VersionId"]} if head.get("VersionId") else {})}
            if int(head["ContentLength"]) > COPY_OBJECT_MAX_BYTES:
                _copy_multipart(client, source, target_bucket, key, head, key_arn)
                multipart += 1
            else:
                _copy_single(client, source, target_bucket, key, head, key_arn)
            copied += 1
        # The source's heads are as fresh as the copy (its versions pinned); the target is read again.
        report = self.verify(source_bucket, target_bucket, key_arn=key_arn, source_heads=heads)
        return dataclasses.replace(report, copied=copied, skipped=skipped, multipart=multipart)

    def verify(self, source_bucket: str, target_bucket: str, *, key_arn: str | None = None,
               source_heads: Mapping[str, Mapping[str, Any]] | None = None) -> ObjectCopyReport:
        """Read both buckets again (writes nothing): keys, sizes, contents and the target's encryption."""
        client = self._s3()
        known = source_heads or {}
        key_arn = key_arn or target_key(client, target_bucket)
        source, target = dict(_listing(client, source_bucket)), dict(_listing(client, target_bucket))
        contents: tuple[list[str], list[str]] = ([], [])
        problems: list[str] = []
        compared = size_only = 0
        for key in sorted(source.keys() | target.keys()):
            if key not in target or key not in source:
                problems.append(f"{key}: {'missing on the target' if key in source else 'not in the source'}")
                continue
            mine = known.get(key) or _head(client, source_bucket, key)
            theirs = _head(client, target_bucket, key)
            problem = _difference(mine, theirs, key_arn)
            if problem:
                problems.append(f"{key}: {problem}")
            checksum = comparable_checksum(mine)
            if checksum is None:
                size_only += 1
                continue
            compared += 1
            contents[0].append(f"{key} {checksum[0]} {checksum[1]}")
            contents[1].append(f"{key} {checksum[0]} {theirs.get(f'Checksum{checksum[0]}')}")
        return ObjectCopyReport(
            source_bucket, target_bucket, 0, len(source), len(target), sum(source.values()),
            sum(target.values()), _digest([f"{k} {s}" for k, s in source.items()]),
            _digest([f"{k} {s}" for k, s in target.items()]), _digest(contents[0]), _digest(contents[1]),
            content_compared=compared, size_only=size_only, target_key=key_arn,
            problems=tuple(problems[:MAX_PROBLEMS]), problem_count=len(problems))


def copy_objects(source_bucket: str, target_bucket: str, *, client: Any = None) -> ObjectCopyReport:
    """Copy every object of ``source_bucket`` into ``target_bucket``; compare the two."""
    return S3Copier(client)(source_bucket, target_bucket)


def verify_objects(source_bucket: str, target_bucket: str, *, client: Any = None) -> ObjectCopyReport:
    """Compare both buckets again, writing nothing (``tenantctl migrate``'s ``verify``)."""
    return S3Copier(client).verify(source_bucket, target_bucket)

"""Copy a tenant's files from one S3 bucket to another, and count both sides (boto3).

A move between stacks gives the target a bucket of a new name (a bucket cannot change
account, and bucket names are global): every object is copied server-side
(``CopyObject``, or a multipart copy for large objects, as ``copy`` does), then both
buckets are listed again and compared by object count, bytes and the set of keys with
their sizes. The credentials (``client``) must read the source and write the target: the
deploy runner's role, granted by both accounts for the move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


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

    @property
    def ok(self) -> bool:
        """Both buckets hold the same keys with the same sizes."""
        return (self.source_objects, self.source_bytes, self.source_checksum) == (
            self.target_objects, self.target_bytes, self.target_checksum)

    def as_json(self) -> dict[str, Any]:
        """For the migration's state file (``verify`` compares the ``source_``/``target_`` pairs)."""
        return {"ok": self.ok, "copied": self.copied, "source_objects": self.source_objects,
                "target_objects": self.target_objects, "source_bytes": self.source_bytes,
                "target_bytes": self.target_bytes, "source_checksum": self.source_checksum,
                "target_checksum": self.target_checksum}


def _listing(client: Any, bucket: str) -> Iterator[tuple[str, int]]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", ()):
            yield item["Key"], int(item["Size"])


def _summary(objects: dict[str, int]) -> tuple[int, int, str]:
    digest = hashlib.sha256("".join(f"{k} {s}\n" for k, s in sorted(objects.items())).encode())
    return len(objects), sum(objects.values()), digest.hexdigest()


def copy_objects(source_bucket: str, target_bucket: str, *, client: Any = None) -> ObjectCopyReport:
    """Copy every object of ``source_bucket`` into ``target_bucket``; compare the two."""
    if client is None:
        import boto3  # only a real migration needs it

        client = boto3.client("s3")
    source = dict(_listing(client, source_bucket))
    for key in sorted(source):
        client.copy({"Bucket": source_bucket, "Key": key}, target_bucket, key)
    target = dict(_listing(client, target_bucket))
    s_count, s_bytes, s_sum = _summary(source)
    t_count, t_bytes, t_sum = _summary(target)
    return ObjectCopyReport(source_bucket, target_bucket, len(source), s_count, t_count, s_bytes, t_bytes,
                            s_sum, t_sum)

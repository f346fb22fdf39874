"""What the migration tests share: a walk registry, fake databases and buckets, step markers.

The walk registry is the fixture fleet with a second cell ``f2`` in an account of its
own (a tenant that went to ``cluster`` comes back to a cell other than the one still
keeping its first placement) and, like every real registry, with ``hosted_zones``: the
fleet's three, plus a zone for exactly alpha's host in each account a move takes it to
(the cluster account, f2's), made before the move (docs/migration.md, DNS).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tenantctl import migrate_steps as ms
from tenantctl.object_copy import ObjectCopyReport, copy_objects
from tenantctl.schema_copy import CopyReport, TableCheck
from tests.conftest import FIXTURE_FLEET
from tests.tenantctl.fake_pulumi import FakePulumi

SOURCE_DSN, TARGET_DSN = "host=source dbname=app", "host=target dbname=app"
CLUSTER_ACCOUNT = "567890123456"


CELL_F2_ACCOUNT = "234567890123"
ALPHA_HOST = "alpha.files.fleet.example"
#: The zones made for alpha's host in the accounts it moves to (not delegated until a switch).
ALPHA_ZONES = {CLUSTER_ACCOUNT: "Z02ALPHACLUSTER", CELL_F2_ACCOUNT: "Z03ALPHAF2"}


def walk_registry(target: Path, *, alpha_zones: tuple[str, ...] = tuple(ALPHA_ZONES)) -> Path:
    """The fixture fleet plus cell f2 (own account) at ``target``, with the fleet's hosted
    zones and a zone for alpha's host in each account of ``alpha_zones``."""
    shutil.copytree(FIXTURE_FLEET, target)
    path = target / "_platform.yaml"
    platform = yaml.safe_load(path.read_text())
    platform["hosted_zones"] += [
        {"domain": ALPHA_HOST, "zone_id": ALPHA_ZONES[a], "account": a} for a in alpha_zones]
    platform["cells"].append({"name": "f2", "region": "ap-northeast-1", "vpc_cidr": "10.1.0.0/16",
                              "account": CELL_F2_ACCOUNT})
    path.write_text(yaml.safe_dump(platform, sort_keys=False))
    return target


def _checksum(rows: list[Any]) -> str:
    return hashlib.sha256(json.dumps(sorted(map(str, rows))).encode()).hexdigest()


@dataclass
class FakeDatabases:
    """Two database servers as dictionaries: conninfo -> schema -> table -> rows.

    Its copier and verifier have schema_copy's signatures and return its real report types.
    """

    servers: dict[str, dict[str, dict[str, list[Any]]]] = field(default_factory=dict)
    calls: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    #: Set to make a row vanish from the target after the next copy (what ``verify`` must catch).
    drop_a_row: bool = False

    def copy_schema(self, source: str, target: str, schema: str, *, target_schema: str | None = None,
                    progress: Any = None, overwrite: bool = False) -> CopyReport:
        self.calls.append((source, target, schema, target_schema))
        tables = deepcopy(self.servers[source][schema])
        self.servers.setdefault(target, {})[target_schema or schema] = tables
        if progress is not None:
            progress(f"{len(tables)} table(s)")
        report = self.verify_schema(source, target, schema, target_schema=target_schema)
        if self.drop_a_row:  # after the copy's own check: only verify, reading again, can see it
            self.drop_a_row = False
            next(iter(tables.values())).pop()
        return report

    def verify_schema(self, source: str, target: str, schema: str, *,
                      target_schema: str | None = None) -> CopyReport:
        theirs = self.servers.get(target, {}).get(target_schema or schema, {})
        checks = []
        for name, rows in sorted(self.servers[source][schema].items()):
            other = theirs.get(name)
            checks.append(TableCheck(name, len(rows), None if other is None else len(other), _checksum(rows),
                                     None if other is None else _checksum(other)))
        return CopyReport(schema, target_schema or schema, tuple(checks), ())


class FakeS3:
    """The calls the boto3 copier makes for small objects, over buckets held as dictionaries.

    Every bucket is encrypted by default with a key of its own (``key_of``); an object
    remembers the key it was written with. tests/tenantctl/test_object_copy.py runs the
    copier against moto; this fake keeps the migration walks fast and their buckets plain.
    """

    def __init__(self, buckets: dict[str, dict[str, bytes]]) -> None:
        self.buckets = buckets
        self.copies: list[tuple[str, str, str]] = []
        self.written: dict[tuple[str, str], tuple[str, int]] = {}  # (bucket, key) -> (key ARN, time)
        self.clock = 0

    @staticmethod
    def key_of(bucket: str) -> str:
        return f"arn:aws:kms:ap-northeast-1:123456789012:key/{bucket}"

    def get_bucket_encryption(self, Bucket: str) -> dict[str, Any]:  # noqa: N803 - boto3's spelling
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.key_of(Bucket)}
        rules = [{"ApplyServerSideEncryptionByDefault": default}]
        return {"ServerSideEncryptionConfiguration": {"Rules": rules}}

    def get_paginator(self, name: str) -> FakeS3:
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket: str, **_: Any) -> list[dict[str, Any]]:  # noqa: N803
        items = sorted(self.buckets.setdefault(Bucket, {}).items())
        return [{"Contents": [{"Key": k, "Size": len(v)} for k, v in items[:2]]},
                {"Contents": [{"Key": k, "Size": len(v)} for k, v in items[2:]]}]

    def head_object(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        body = self.buckets[Bucket][Key]
        key, time = self.written.get((Bucket, Key), (self.key_of(Bucket), 0))
        return {"ContentLength": len(body), "LastModified": time, "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": key, "ChecksumSHA256": hashlib.sha256(body).hexdigest()}

    def copy_object(self, Bucket: str, Key: str, CopySource: dict[str, str], SSEKMSKeyId: str,  # noqa: N803
                    **_: Any) -> None:
        self.copies.append((CopySource["Bucket"], Bucket, Key))
        self.clock += 1
        self.buckets.setdefault(Bucket, {})[Key] = self.buckets[CopySource["Bucket"]][CopySource["Key"]]
        self.written[(Bucket, Key)] = (SSEKMSKeyId, self.clock)

    def copier(self, source_bucket: str, target_bucket: str) -> ObjectCopyReport:
        return copy_objects(source_bucket, target_bucket, client=self)


def services(registry: Path, work: Path, fake: FakePulumi, databases: FakeDatabases, s3: FakeS3,
             **extra: Any) -> ms.Services:
    """Services whose every call is recorded; each step's start is a marker in ``fake.calls``.

    The operator has made the host's delegation (``delegated``) unless a test says otherwise:
    test_migrate_delegate.py drives the wait itself.
    """
    extra.setdefault("delegated", True)

    def report(message: str) -> None:
        if message.startswith("["):
            fake.calls.append(["#step", message.split("] ", 1)[1].split(":", 1)[0]])
    return ms.Services(registry=registry, work_dir=work, pulumi_command=fake,
                       copy_schema=databases.copy_schema, verify_schema=databases.verify_schema,
                       copy_objects=s3.copier,
                       source_dsn=SOURCE_DSN, target_dsn=TARGET_DSN, report=report, **extra)


def calls_by_step(fake: FakePulumi) -> dict[str, list[list[str]]]:
    """The CLI calls of each step (by the step markers), in order; a step run twice appends."""
    out: dict[str, list[list[str]]] = {}
    current = None
    for call in fake.calls:
        if call[0] == "#step":
            current = call[1]
            out.setdefault(current, [])
        elif current is not None:
            out[current].append(call)
    return out


def verbs(calls: list[list[str]]) -> list[tuple[str, ...]]:
    """The calls that change state, shortened: (``up``, stack) and (``state move``, src, dst, urns...)."""
    out: list[tuple[str, ...]] = []
    for call in calls:
        if call[0] == "up":
            out.append(("up", call[call.index("--stack") + 1]))
        elif call[:2] == ["state", "move"]:
            out.append(("state move", call[call.index("--source") + 1], call[call.index("--dest") + 1],
                        *[c for c in call[2:] if c.startswith("urn:")]))
        elif call[0] in ("destroy", "refresh") or call[:2] == ["stack", "rm"]:
            out.append((call[0],))
    return out

"""Released images reach the tenant's repository before its pods ask for them.

Two halves: the copy itself (the OCI distribution API, against an in-memory registry
that behaves like ECR and public.ecr.aws: Basic or Bearer auth, blob downloads redirected
to a storage host, uploads in POST/PATCH/PUT), and the plan (every platform Deployment
takes its image from the copy and depends on it).
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse

import pytest

from components import release_image as ri
from components.release_image import ImageCopyError, ImageRef, Registry, ReleasedImageProvider, copy_image
from tests.components.stack_checks import run_tenant
from tests.factories import TEST_IMAGES

ECR = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"
PUBLIC = "public.ecr.aws"
STORAGE = "storage.example-bucket.s3.amazonaws.com"
TOKEN = "QVdTOnNlY3JldA=="  # base64("AWS:secret"), an ECR authorization token


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeRegistries:
    """Registries and a storage host behind one transport, recording every request."""

    def __init__(self) -> None:
        self.blobs: dict[tuple[str, str], bytes] = {}       # (host/repo, digest) -> bytes
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.uploads: dict[str, bytearray] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.tamper: set[str] = set()

    def put_image(self, host: str, repo: str, *, platforms: int = 2) -> str:
        """An image index of ``platforms`` images, stored in host/repo; returns its digest."""
        children = []
        for n in range(platforms):
            config = json.dumps({"architecture": f"arch{n}"}).encode()
            layer = f"layer {n} of the release".encode() * 50
            for blob in (config, layer):
                self.blobs[(f"{host}/{repo}", digest(blob))] = blob
            manifest = json.dumps({"schemaVersion": 2, "mediaType": ri.MANIFEST_TYPES[0],
                                   "config": {"digest": digest(config), "size": len(config)},
                                   "layers": [{"digest": digest(layer), "size": len(layer)}]}).encode()
            self.manifests[(f"{host}/{repo}", digest(manifest))] = (manifest, ri.MANIFEST_TYPES[0])
            children.append({"digest": digest(manifest), "mediaType": ri.MANIFEST_TYPES[0]})
        index = json.dumps({"schemaVersion": 2, "mediaType": ri.INDEX_TYPES[0],
                            "manifests": children}).encode()
        self.manifests[(f"{host}/{repo}", digest(index))] = (index, ri.INDEX_TYPES[0])
        return digest(index)

    def __call__(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> ri.Response:
        self.requests.append((method, url, dict(headers)))
        parts = urllib.parse.urlsplit(url)
        host, path, query = parts.hostname or "", parts.path, urllib.parse.parse_qs(parts.query)
        auth = headers.get("Authorization", "")
        if host == STORAGE:
            assert not auth, "registry credentials must not go to the storage host"
            key = tuple(json.loads(urllib.parse.unquote(query["k"][0])))
            data = self.blobs[key]  # type: ignore[index]
            return ri.Response(200, {}, data + b"!" if key[1] in self.tamper else data)
        if host == "auth.public.ecr.aws":
            return ri.Response(200, {}, json.dumps({"token": "anon-token"}).encode())
        if host == PUBLIC and auth != "Bearer anon-token":
            return ri.Response(401, {"WWW-Authenticate": 'Bearer realm="https://auth.public.ecr.aws/token",'
                                                         'service="public.ecr.aws",scope="pull"'})
        if host == ECR and auth != f"Basic {TOKEN}":
            return ri.Response(401, {"WWW-Authenticate": 'Basic realm="ecr"'})
        repo, kind, ref = self._split(path)
        key = (f"{host}/{repo}", ref)
        if kind == "manifests" and method in ("GET", "HEAD"):
            if key not in self.manifests:
                return ri.Response(404, {})
            data, media = self.manifests[key]
            data = data + b" " if ref in self.tamper else data
            return ri.Response(200, {"Content-Type": media}, data if method == "GET" else b"")
        if kind == "manifests" and method == "PUT":
            assert digest(body or b"") == ref
            self.manifests[key] = (body or b"", headers["Content-Type"])
            return ri.Response(201, {})
        if kind == "blobs" and method == "HEAD":
            return ri.Response(200 if key in self.blobs else 404, {})
        if kind == "blobs" and method == "GET":
            where = urllib.parse.quote(json.dumps(list(key)))
            return ri.Response(307, {"Location": f"https://{STORAGE}/blob?k={where}"})
        if kind == "uploads" and method == "POST":
            upload = f"u{len(self.uploads)}"
            self.uploads[upload] = bytearray()
            return ri.Response(202, {"Location": f"/v2/{repo}/blobs/uploads/{upload}"})
        if kind == "uploads" and method == "PATCH":
            self.uploads[ref] += body or b""
            return ri.Response(202, {"Location": f"/v2/{repo}/blobs/uploads/{ref}"})
        if kind == "uploads" and method == "PUT":
            data = bytes(self.uploads.pop(ref))
            assert digest(data) == query["digest"][0]
            self.blobs[(f"{host}/{repo}", query["digest"][0])] = data
            return ri.Response(201, {})
        raise AssertionError(f"unexpected {method} {url}")

    @staticmethod
    def _split(path: str) -> tuple[str, str, str]:
        rest = path.removeprefix("/v2/")
        if "/blobs/uploads/" in rest:
            repo, upload = rest.split("/blobs/uploads/", 1)
            return repo, "uploads", upload
        for kind in ("manifests", "blobs"):
            if f"/{kind}/" in rest:
                repo, ref = rest.rsplit(f"/{kind}/", 1)
                return repo, kind, ref
        raise AssertionError(path)


@pytest.fixture
def fake() -> FakeRegistries:
    return FakeRegistries()


def test_copies_an_index_with_every_image_and_blob_keeping_the_digest(fake):
    released = fake.put_image(PUBLIC, "tenant-platform/fileserver")
    written = copy_image(Registry(PUBLIC, "", fake), "tenant-platform/fileserver",
                         Registry(ECR, TOKEN, fake), "tp-prod-acme/fileserver", released)
    assert written[-1] == released
    assert (f"{ECR}/tp-prod-acme/fileserver", released) in fake.manifests
    source_blobs = {d for (where, d) in fake.blobs if where.startswith(PUBLIC)}
    target_blobs = {d for (where, d) in fake.blobs if where.startswith(ECR)}
    assert source_blobs == target_blobs and len(target_blobs) == 4


def test_a_second_copy_writes_nothing(fake):
    released = fake.put_image(PUBLIC, "tenant-platform/chatbot")
    source, target = Registry(PUBLIC, "", fake), Registry(ECR, TOKEN, fake)
    copy_image(source, "tenant-platform/chatbot", target, "tp-prod-acme/chatbot", released)
    fake.requests.clear()
    assert copy_image(source, "tenant-platform/chatbot", target, "tp-prod-acme/chatbot", released) == []
    assert [m for m, *_ in fake.requests] == ["HEAD"]


def test_blobs_the_target_holds_are_not_uploaded_again(fake):
    released = fake.put_image(PUBLIC, "tenant-platform/fileserver", platforms=1)
    present = next(d for (where, d) in fake.blobs if where.startswith(PUBLIC))
    source_blob = fake.blobs[(f"{PUBLIC}/tenant-platform/fileserver", present)]
    fake.blobs[(f"{ECR}/tp-prod-acme/fileserver", present)] = source_blob
    written = copy_image(Registry(PUBLIC, "", fake), "tenant-platform/fileserver",
                         Registry(ECR, TOKEN, fake), "tp-prod-acme/fileserver", released)
    assert present not in written and len(written) == 3  # one blob, the image manifest, the index


@pytest.mark.parametrize("what", ["manifest", "blob"])
def test_content_that_does_not_match_its_digest_is_refused_and_nothing_is_tagged(fake, what):
    released = fake.put_image(PUBLIC, "tenant-platform/fileserver", platforms=1)
    if what == "manifest":
        fake.tamper.add(released)
    else:
        fake.tamper.add(next(d for (where, d) in fake.blobs if where.startswith(PUBLIC)))
    with pytest.raises(ImageCopyError, match="refusing content that is not the released image"):
        copy_image(Registry(PUBLIC, "", fake), "tenant-platform/fileserver",
                   Registry(ECR, TOKEN, fake), "tp-prod-acme/fileserver", released)
    assert (f"{ECR}/tp-prod-acme/fileserver", released) not in fake.manifests


def test_credentials_go_to_their_registry_only(fake):
    released = fake.put_image(ECR, "release/fileserver", platforms=1)
    copy_image(Registry(ECR, TOKEN, fake), "release/fileserver", Registry(ECR, TOKEN, fake),
               "tp-prod-acme/fileserver", released)
    storage = [h for _, url, h in fake.requests if STORAGE in url]
    assert storage and all("Authorization" not in h for h in storage)


def test_a_token_realm_that_is_not_https_is_refused():
    def http(method, url, headers, body):
        return ri.Response(401, {"WWW-Authenticate": 'Bearer realm="http://evil.example/token"'})
    with pytest.raises(ImageCopyError, match="non-HTTPS realm"):
        Registry(PUBLIC, "", http).manifest("tenant-platform/fileserver", "sha256:" + "0" * 64)


def test_the_real_transport_refuses_plain_http():
    with pytest.raises(ImageCopyError, match="non-HTTPS"):
        ri.urllib_http("GET", "http://registry.example/v2/", {}, None)


@pytest.mark.parametrize("image", ["public.ecr.aws/tenant-platform/fileserver:latest",
                                   "tenant-platform/fileserver@sha256:" + "1" * 64,
                                   "public.ecr.aws/tenant-platform/fileserver@sha256:" + "1" * 63])
def test_only_digest_pinned_references_with_a_registry_are_copied(image):
    with pytest.raises(ValueError, match="is not <registry>/<repository>@sha256"):
        ImageRef.parse(image)


def test_provider_copies_on_create_and_replaces_only_for_a_new_image(fake, monkeypatch):
    released = fake.put_image(PUBLIC, "tenant-platform/fileserver", platforms=1)
    monkeypatch.setattr(ri, "http_factory", lambda: fake)
    props = {"source_image": f"{PUBLIC}/tenant-platform/fileserver@{released}", "digest": released,
             "repository_url": f"{ECR}/tp-prod-acme/fileserver",
             "image": f"{ECR}/tp-prod-acme/fileserver@{released}",
             "target_auth": TOKEN, "source_auth": ""}
    provider = ReleasedImageProvider()
    created = provider.create(props)
    assert created.id == props["image"] and (f"{ECR}/tp-prod-acme/fileserver", released) in fake.manifests
    assert not provider.diff(created.id, props, {**props, "target_auth": "fresh-token"}).changes
    newer = provider.diff(created.id, props, {**props, "digest": "sha256:" + "9" * 64})
    assert newer.changes and newer.replaces == ["digest"]
    assert provider.delete(created.id, props) is None


# --- the plan: the Deployment waits for the copy --------------------------------------------
COPY = "pulumi-python:dynamic/tenant-platform:ReleasedImage"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def deployments_without_their_image(resources) -> list[str]:
    """Platform Deployments (pods labelled platform code) whose dependencies reach no copy of
    exactly their container's image; ``resources``: one stack's plan resources (dicts)."""
    by_urn = {r["urn"]: r for r in resources}
    late = []
    for deployment in resources:
        if deployment["type"] != DEPLOYMENT:
            continue
        template = deployment["inputs"]["spec"]["template"]
        if template["metadata"]["labels"].get("isolation.tenant-platform.io/code") != "platform":
            continue
        images = {c["image"] for c in template["spec"]["containers"]}
        waits = set(deployment["options"]["dependsOn"]) | set(
            deployment["options"]["propertyDependencies"].get("spec", []))
        copies = {by_urn[u]["inputs"]["image"] for u in waits if u in by_urn and by_urn[u]["type"] == COPY}
        if not images <= copies:
            late.append(deployment["name"])
    return late


@pytest.fixture(scope="module")
def tenant_run():
    return run_tenant("acme", "namespace", "standard")


def test_each_workload_copies_its_released_image_into_the_tenants_repository(tenant_run):
    copies = {r.name: r for r in tenant_run.of_type(COPY)}
    assert sorted(copies) == ["acme-chat-workload-image", "acme-files-workload-image"]
    for copy in copies.values():
        workload = "chatbot" if "-chat-" in copy.name else "fileserver"
        repository = next(r for r in tenant_run.of_type("aws:ecr/repository:Repository")
                          if r.inputs["name"] == f"tp-prod-acme/{workload}")
        released = TEST_IMAGES[workload]
        assert copy.inputs["source_image"] == f"public.ecr.aws/tenant-platform/{workload}@{released}"
        assert copy.inputs["image"] == f"{repository.outputs['repositoryUrl']}@{TEST_IMAGES[workload]}"
        assert repository.urn in copy.options["dependsOn"]
        assert copy.inputs["target_auth"] == "[secret]"


def test_every_platform_deployment_waits_for_the_copy_of_its_image(tenant_run):
    plan = [r.as_plan() for r in tenant_run.resources]
    assert [r for r in plan if r["type"] == DEPLOYMENT]
    assert deployments_without_their_image(plan) == []


def test_the_check_catches_a_deployment_that_no_longer_waits_for_its_copy(tenant_run):
    """Hostile case: the Deployment as it was before (image from the repository URL only)."""
    plan = [r.as_plan() for r in tenant_run.resources]
    [deployment, *_] = [r for r in plan if r["type"] == DEPLOYMENT]
    copies = {r["urn"] for r in plan if r["type"] == COPY}
    deployment["options"] = {**deployment["options"],
                             "dependsOn": [u for u in deployment["options"]["dependsOn"] if u not in copies],
                             "propertyDependencies": {}}
    assert deployments_without_their_image(plan) == [deployment["name"]]


def test_every_sample_stack_deploys_only_images_it_has_copied(sample_plan):
    for stack in sample_plan.document["stacks"]:
        assert deployments_without_their_image(stack["resources"]) == [], stack["name"]
    copies = sum(1 for s in sample_plan.document["stacks"] for r in s["resources"] if r["type"] == COPY)
    assert copies >= 2

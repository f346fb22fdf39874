"""ReleasedImage: copy a released image into a tenant's own ECR repository during ``pulumi up``.

A tenant's pods pull only from the tenant's own repository (ISO-POD-13, the admission
policy's image prefix, :meth:`tenants.naming.TenantNames.image_repository_prefix`), and
that repository is created by the same ``pulumi up`` as the Deployment that pulls from
it. Nothing else fills it: so the stack itself copies the released image
(``<release_repository>/<workload>@<digest>``, ``_platform.yaml``) into the repository,
as one resource the Deployment depends on. A new tenant's first ``up`` then creates the
repository, copies the image, and only then applies the Deployment; a release (a new
digest in ``_platform.yaml``) copies the new image before the Deployment rolls.

Why a copy and not ECR's own features: replication copies only images pushed after it is
configured (a new tenant's repository gets nothing); a pull-through cache rule per tenant
does not fit (at most 50 rules per registry, not adjustable, and prefixes of at most 30
characters); pulling every tenant from one shared release repository would break the
per-tenant image fence.

The copy speaks the OCI distribution API (the same one ``docker pull``/``push`` use) to
both registries, from the machine running ``pulumi up`` (the deploy runner): manifests
are copied byte for byte, so the image keeps its digest, and every manifest and blob is
checked against its digest before it is written. Blobs the target already has are not
uploaded again; an image the target already holds is left as it is. Credentials are ECR
authorization tokens the stack's AWS provider issues (valid 12 hours, secret in the
state); an anonymous bearer token is fetched for a public source such as public.ecr.aws.

Diff: a different source, digest or repository replaces (copies anew); fresh credentials
alone are no change. Delete keeps the image: the repository is immutable and images are
release artefacts, removed with the repository, never by a replaced copy.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

IMAGE_RE = re.compile(r"^(?P<host>[a-z0-9.-]+\.[a-z]{2,}(:\d+)?)/(?P<repo>[a-z0-9]+([._/-][a-z0-9]+)*)"
                      r"@(?P<digest>sha256:[0-9a-f]{64})$")
#: ``<account>.dkr.ecr.<region>.amazonaws.com[.cn]``: a private ECR registry.
ECR_HOST_RE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
ACCEPT = ", ".join((*INDEX_TYPES, *MANIFEST_TYPES))
#: Inputs whose change means a different image in a different place (a new copy).
IDENTITY_KEYS = ("source_image", "repository_url", "digest")
SECRET_INPUTS = ["target_auth", "source_auth"]
TIMEOUT_SECONDS = 120


class ImageCopyError(RuntimeError):
    """The image could not be copied; the message says which request and why."""


# --- HTTP ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Response:
    """What one HTTP request answered."""

    status: int
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str:
        """A header, case-insensitively ("" when absent)."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


#: (method, url, headers, body) -> response, never following redirects.
Http = Callable[[str, str, dict[str, str], bytes | None], Response]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102 - see Registry
        return None


def urllib_http(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Response:
    """The real transport: one HTTPS request, redirects returned to the caller."""
    if not url.startswith("https://"):
        raise ImageCopyError(f"refusing a non-HTTPS registry URL {url!r}")
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - https only
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as reply:
            return Response(reply.status, dict(reply.headers), reply.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, dict(exc.headers or {}), exc.read() or b"")


def _challenge(header: str) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer realm=...,service=...`` challenge."""
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


# --- one registry ----------------------------------------------------------------------
@dataclass
class Registry:
    """One registry's OCI distribution API, with Basic (ECR token) or anonymous Bearer auth.

    ``basic``: an ECR authorization token (base64 of ``AWS:<password>``), or "" for a
    public registry, whose bearer token is fetched when it asks for one.
    """

    host: str
    basic: str = ""
    http: Http = urllib_http
    _bearer: str = field(default="", repr=False)

    def _auth(self) -> dict[str, str]:
        if self._bearer:
            return {"Authorization": f"Bearer {self._bearer}"}
        return {"Authorization": f"Basic {self.basic}"} if self.basic else {}

    def request(self, method: str, path_or_url: str, *, headers: dict[str, str] | None = None,
                body: bytes | None = None, ok: tuple[int, ...] = (200,)) -> Response:
        """One request to the registry (a path) or to a URL it returned, with auth and redirects.

        A redirect (blob downloads go to presigned storage URLs) is followed without the
        registry's credentials; a Bearer challenge is answered once with a token.
        """
        url = path_or_url if path_or_url.startswith("https://") else f"https://{self.host}{path_or_url}"
        for _ in range(5):
            own = urllib.parse.urlsplit(url).hostname == self.host
            reply = self.http(method, url, {**(headers or {}), **(self._auth() if own else {})}, body)
            if reply.status == 401 and own and not self._bearer and "bearer" in reply.header(
                    "WWW-Authenticate").lower():
                self._bearer = self._token(_challenge(reply.header("WWW-Authenticate")))
                continue
            if reply.status in (301, 302, 303, 307, 308) and reply.header("Location"):
                url = urllib.parse.urljoin(url, reply.header("Location"))
                continue
            if reply.status not in ok:
                raise ImageCopyError(f"{method} {url} answered {reply.status}: {reply.body[:200]!r}")
            return reply
        raise ImageCopyError(f"{method} {path_or_url}: too many redirects or challenges")

    def _token(self, challenge: dict[str, str]) -> str:
        realm = challenge.get("realm", "")
        if not realm.startswith("https://"):
            raise ImageCopyError(f"{self.host} asks for a token from a non-HTTPS realm {realm!r}")
        query = urllib.parse.urlencode({k: v for k, v in challenge.items() if k in ("service", "scope")})
        headers = {"Authorization": f"Basic {self.basic}"} if self.basic else {}
        reply = self.http("GET", f"{realm}?{query}", headers, None)
        if reply.status != 200:
            raise ImageCopyError(f"token request to {realm} answered {reply.status}")
        document = json.loads(reply.body)
        return str(document.get("token") or document.get("access_token") or "")

    def manifest(self, repository: str, digest: str) -> tuple[bytes, str]:
        """A manifest's exact bytes and media type, checked against its digest."""
        reply = self.request("GET", f"/v2/{repository}/manifests/{digest}", headers={"Accept": ACCEPT})
        _check_digest(reply.body, digest, f"manifest {self.host}/{repository}@{digest}")
        media = reply.header("Content-Type").split(";")[0].strip()
        media = media or str(json.loads(reply.body).get("mediaType", ""))
        return reply.body, media

    def has(self, repository: str, kind: str, digest: str) -> bool:
        """Whether the registry holds a blob or manifest (``kind``) with this digest."""
        reply = self.request("HEAD", f"/v2/{repository}/{kind}/{digest}",
                             headers={"Accept": ACCEPT} if kind == "manifests" else None, ok=(200, 404))
        return reply.status == 200

    def blob(self, repository: str, digest: str) -> bytes:
        """A blob's bytes, checked against its digest."""
        data = self.request("GET", f"/v2/{repository}/blobs/{digest}").body
        _check_digest(data, digest, f"blob {self.host}/{repository}@{digest}")
        return data

    def push_blob(self, repository: str, digest: str, data: bytes) -> None:
        """Upload a blob: start an upload, send the bytes, close it with the digest."""
        start = self.request("POST", f"/v2/{repository}/blobs/uploads/", ok=(202,))
        location = urllib.parse.urljoin(f"https://{self.host}/", start.header("Location"))
        sent = self.request("PATCH", location, body=data, ok=(202,),
                            headers={"Content-Type": "application/octet-stream"})
        location = urllib.parse.urljoin(location, sent.header("Location") or location)
        separator = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{separator}digest={urllib.parse.quote(digest)}", body=b"",
                     ok=(201,), headers={"Content-Type": "application/octet-stream"})

    def push_manifest(self, repository: str, digest: str, data: bytes, media_type: str) -> None:
        """Store a manifest under its digest (no tag: the repositories are immutable)."""
        self.request("PUT", f"/v2/{repository}/manifests/{digest}", body=data, ok=(201,),
                     headers={"Content-Type": media_type})


def _check_digest(data: bytes, digest: str, what: str) -> None:
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ImageCopyError(f"{what} has digest {actual}: refusing content that is not the released image")


# --- references and the copy -----------------------------------------------------------
@dataclass(frozen=True)
class ImageRef:
    """``<host>/<repository>@<digest>`` split into its parts."""

    host: str
    repository: str
    digest: str

    @classmethod
    def parse(cls, image: str) -> ImageRef:
        """Split an image reference pinned by digest; ValueError for anything else."""
        match = IMAGE_RE.match(image)
        if not match:
            raise ValueError(f"{image!r} is not <registry>/<repository>@sha256:<64 hex>")
        return cls(match["host"], match["repo"], match["digest"])


def copy_image(source: Registry, source_repository: str, target: Registry, target_repository: str,
               digest: str) -> list[str]:
    """Copy one image (or index and every image it lists) by digest; returns what was written."""
    if target.has(target_repository, "manifests", digest):
        return []
    data, media_type = source.manifest(source_repository, digest)
    document = json.loads(data)
    written: list[str] = []
    if media_type in INDEX_TYPES:
        for child in document.get("manifests", []):
            written += copy_image(source, source_repository, target, target_repository, str(child["digest"]))
    elif media_type in MANIFEST_TYPES:
        for blob in [document["config"], *document.get("layers", [])]:
            blob_digest = str(blob["digest"])
            if not target.has(target_repository, "blobs", blob_digest):
                target.push_blob(target_repository, blob_digest, source.blob(source_repository, blob_digest))
                written.append(blob_digest)
    else:
        raise ImageCopyError(f"{source.host}/{source_repository}@{digest} has media type {media_type!r}, "
                             "not an OCI or Docker image manifest or index")
    target.push_manifest(target_repository, digest, data, media_type)
    return [*written, digest]


#: How the provider reaches registries (tests replace it with an in-memory registry).
http_factory: Callable[[], Http] = lambda: urllib_http  # noqa: E731


# --- the dynamic provider --------------------------------------------------------------
class ReleasedImageProvider(dynamic.ResourceProvider):
    """Copies on create; replaces on a new source, digest or repository (module doc)."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:  # noqa: D102 - module doc
        source = ImageRef.parse(props["source_image"])
        target = ImageRef.parse(f"{props['repository_url']}@{props['digest']}")
        http = http_factory()
        copy_image(Registry(source.host, props.get("source_auth") or "", http), source.repository,
                   Registry(target.host, props["target_auth"], http), target.repository, target.digest)
        return dynamic.CreateResult(id_=props["image"], outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:  # noqa: D102
        changed = [k for k in IDENTITY_KEYS if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:  # noqa: D102
        return dynamic.UpdateResult(outs=dict(news))  # fresh credentials only: nothing to copy

    def delete(self, _id: str, _props: dict[str, Any]) -> None:  # noqa: D102 - images are kept
        return None


@dataclass(frozen=True, kw_only=True)
class ReleasedImageArgs:
    """What to copy where.

    ``source_image``: ``<release_repository>/<workload>@<digest>``; ``repository_url``:
    the tenant repository's URL; ``target_auth``/``source_auth``: ECR authorization
    tokens (``source_auth`` empty for a public source).
    """

    source_image: str
    repository_url: pulumi.Input[str]
    target_auth: pulumi.Input[str]
    source_auth: pulumi.Input[str] = ""


class ReleasedImage(dynamic.Resource, module="tenant-platform", name="ReleasedImage"):
    """The released image, copied into the tenant's repository (module doc).

    ``image``: the copy's reference, ``<repository_url>@<digest>``: a Deployment that
    takes its image from it waits for the copy.
    """

    image: pulumi.Output[str]

    def __init__(self, name: str, args: ReleasedImageArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        source = ImageRef.parse(args.source_image)
        props: dict[str, Any] = {
            "source_image": args.source_image, "digest": source.digest,
            "repository_url": args.repository_url,
            "image": pulumi.Output.concat(args.repository_url, "@", source.digest),
            "target_auth": pulumi.Output.secret(args.target_auth),
            "source_auth": pulumi.Output.secret(args.source_auth),
        }
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=SECRET_INPUTS)
        super().__init__(ReleasedImageProvider(), name, props,
                         pulumi.ResourceOptions.merge(opts, secret_opts))


def ecr_registry_of(host: str) -> tuple[str, str] | None:
    """(account, region) of a private ECR registry host, else None (a public registry)."""
    match = ECR_HOST_RE.match(host)
    return (match["account"], match["region"]) if match else None


def authorization_token(registry_id: pulumi.Input[str], parent: pulumi.Resource) -> pulumi.Output[str]:
    """An ECR authorization token for one registry, from the parent's (the stack's) provider."""
    import pulumi_aws as aws

    token = aws.ecr.get_authorization_token_output(registry_id=registry_id,
                                                   opts=pulumi.InvokeOutputOptions(parent=parent))
    return pulumi.Output.secret(token.authorization_token)

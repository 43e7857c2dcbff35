"""modelyard's manifest API: a version's frozen files, and checking them.

Served under `/api/modelyard/v1/` and `/ajax-api/modelyard/v1/` (outside MLflow's
namespace, like the history API):

* `GET model-versions/manifest?name=&version=`: the manifest frozen when the
  version was registered (paths, sizes, SHA-256s, one digest over the whole);
* `POST model-versions/verify {name, version}`: re-read the files and report
  any that changed, went missing or were added.

`version` is a number, a stage (`Production`) or an alias (`@champion`).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Route

from modelyard.http.args import Args
from modelyard.http.auth_rules import Rule, model
from modelyard.http.endpoint import Ctx, Handler, api
from modelyard.integrity_entities import FileDifference, Manifest, Verification
from modelyard.service.manifests import ManifestService
from modelyard.service.permissions import READ

Json = dict[str, Any]

PREFIXES = ("/api/modelyard/v1", "/ajax-api/modelyard/v1")


def manifest_json(m: Manifest) -> Json:
    out: Json = {
        "name": m.name,
        "version": str(m.version),
        "digest": f"sha256:{m.digest}",
        "file_count": len(m.files),
        "total_size": m.total_size,
        "created_timestamp": m.created_at,
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in m.files],
    }
    if m.note:
        out["note"] = m.note
    return out


def _difference_json(d: FileDifference) -> Json:
    fields = {
        "path": d.path,
        "problem": d.problem,
        "expected_sha256": d.expected_sha256,
        "found_sha256": d.found_sha256,
        "expected_size": d.expected_size,
        "found_size": d.found_size,
    }
    return {k: v for k, v in fields.items() if v is not None}


def verification_json(v: Verification) -> Json:
    return {
        "name": v.name,
        "version": str(v.version),
        "digest": f"sha256:{v.digest}",
        "ok": v.ok,
        "checked": v.checked,
        "differences": [_difference_json(d) for d in v.differences],
    }


def _service(ctx: Ctx) -> ManifestService:
    service: ManifestService = ctx.services.extra["manifests"]
    return service


def get_manifest(ctx: Ctx, args: Args) -> Json:
    """The files a model version froze at registration: paths, sizes, SHA-256s, one digest.

    `version` is a number, a stage (`Production`) or an alias (`@champion`).
    """
    manifest = _service(ctx).get(args.str("name"), args.str("version"), user=ctx.identity.user)
    return {"manifest": manifest_json(manifest)}


def verify(ctx: Ctx, args: Args) -> Json:
    """Re-read a model version's files and report any that changed, went missing or were added."""
    result = _service(ctx).verify(args.str("name"), args.str("version"), user=ctx.identity.user)
    return {"verification": verification_json(result)}


_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "model-versions/manifest", get_manifest),
    ("POST", "model-versions/verify", verify),
]

# Reading a model is enough for both: verify changes nothing (http/auth_rules.py).
PERMISSIONS: dict[tuple[str, str], Rule] = {
    (method, f"{prefix}/{path}"): model(READ) for prefix in PREFIXES for method, path, _ in _ROUTES
}

RAW_ROUTES: list[BaseRoute] = [
    Route(f"{prefix}/{path}", api(handler), methods=[method])
    for prefix in PREFIXES
    for method, path, handler in _ROUTES
]

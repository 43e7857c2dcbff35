"""Manifests and verification results as the server's JSON describes them (http/manifests.py)."""

from __future__ import annotations

from typing import Any

from modelyard.integrity_entities import FileDifference, Manifest, ManifestFile, Verification

Json = dict[str, Any]


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1] if digest.startswith("sha256:") else digest


def manifest(d: Json) -> Manifest:
    return Manifest(
        name=str(d["name"]),
        version=int(d["version"]),
        store="",
        base="",
        digest=_hex(str(d["digest"])),
        files=tuple(
            ManifestFile(str(f["path"]), int(f["size"]), str(f["sha256"]))
            for f in d.get("files") or ()
        ),
        created_at=int(d.get("created_timestamp") or 0),
        note=d.get("note"),
    )


def verification(d: Json) -> Verification:
    return Verification(
        name=str(d["name"]),
        version=int(d["version"]),
        digest=_hex(str(d["digest"])),
        checked=int(d.get("checked") or 0),
        differences=tuple(
            FileDifference(
                path=str(x["path"]),
                problem=str(x["problem"]),
                expected_sha256=x.get("expected_sha256"),
                found_sha256=x.get("found_sha256"),
                expected_size=x.get("expected_size"),
                found_size=x.get("found_size"),
            )
            for x in d.get("differences") or ()
        ),
    )

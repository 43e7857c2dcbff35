"""Recorded hashes and frozen manifests on every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from modelyard.errors import ResourceDoesNotExist
from modelyard.integrity_entities import Manifest, ManifestFile, manifest_digest
from modelyard.store.artifacts.hashing import Digest
from modelyard.store.registry import Actor, NewModelVersion
from modelyard.store.sql.artifact_digests import SqlArtifactDigests
from modelyard.store.sql.db import Database
from modelyard.store.sql.manifests import SqlManifests
from modelyard.store.sql.registry import SqlRegistryStore

STORE = "/srv/artifacts"
D1 = Digest(1, "a" * 64)
D2 = Digest(2, "b" * 64)


def test_digests_record_replace_and_read_back(db: Database) -> None:
    digests = SqlArtifactDigests(db)
    digests.record(STORE, "0/r/artifacts/m.pkl", D1, 10)
    digests.record(STORE, "0/r/artifacts/m.pkl", D2, 11)  # an overwrite
    digests.record("s3://other", "0/r/artifacts/m.pkl", D1, 12)
    assert digests.get(STORE, "0/r/artifacts/m.pkl") == D2
    assert digests.get(STORE, "0/r/artifacts/none") is None
    many = digests.get_many(STORE, ["0/r/artifacts/m.pkl", "missing"])
    assert many == {"0/r/artifacts/m.pkl": D2}
    assert digests.get_many(STORE, []) == {}


def test_forget_removes_a_path_and_what_is_below_it_only(db: Database) -> None:
    digests = SqlArtifactDigests(db)
    # '%' and '_' are LIKE wildcards; a sibling sharing the prefix must survive.
    for path in ("a_b/x", "a_b/y/z", "a_b", "aXb/x", "a_b2/x", "a%b/x"):
        digests.record(STORE, path, D1, 1)
    assert digests.forget(STORE, "a_b") == 3
    assert digests.forget(STORE, "a%b") == 1
    assert set(digests.get_many(STORE, ["a_b/x", "aXb/x", "a_b2/x", "a%b/x"])) == {
        "a_b2/x",
        "aXb/x",
    }


def _version(registry: SqlRegistryStore, name: str) -> int:
    registry.create_registered_model(name, None, [], 1)
    mv = registry.create_model_version(
        NewModelVersion(
            name=name,
            source="runs:/r1/model",
            storage_location=None,
            run_id="r1",
            run_link="",
            model_id=None,
            description="",
            user_id=None,
        ),
        Actor(now=2, user_id=None),
    )
    return mv.version


def _manifest(name: str, version: int, base: str) -> Manifest:
    files = (ManifestFile("MLmodel", 1, "a" * 64), ManifestFile("sub/w.bin", 2, "b" * 64))
    return Manifest(name, version, STORE, base, manifest_digest(files), files, 5)


def test_manifests_are_saved_once_found_by_file_and_go_with_their_version(db: Database) -> None:
    registry, manifests = SqlRegistryStore(db), SqlManifests(db)
    v1 = _version(registry, "mnist")
    manifests.save(_manifest("mnist", v1, "0/r1/artifacts/model"))
    # Saving again (a retried registration) changes nothing.
    manifests.save(Manifest("mnist", v1, STORE, "elsewhere", "0" * 64, (), 6))
    got = manifests.get("mnist", v1)
    assert got is not None and got.base == "0/r1/artifacts/model" and len(got.files) == 2
    assert got.total_size == 3 and got.digest == _manifest("mnist", v1, "").digest

    assert manifests.owner_of(STORE, "0/r1/artifacts/model/sub/w.bin") == ("mnist", v1)
    assert manifests.owner_of(STORE, "0/r1/artifacts/model/sub") is None  # not a file
    assert manifests.owner_of(STORE, "0/r1/artifacts/model/sub", below=True) == ("mnist", v1)
    assert manifests.owner_of(STORE, "0/r1/artifacts", below=True) == ("mnist", v1)
    assert manifests.owner_of(STORE, "0/r1/artifacts/mod", below=True) is None
    assert manifests.owner_of("s3://elsewhere", "0/r1/artifacts/model/MLmodel") is None

    # A rename keeps the manifest attached; deleting the version releases the files.
    registry.rename_registered_model("mnist", "mnist-2", 7)
    assert manifests.get("mnist-2", v1) is not None
    assert manifests.owner_of(STORE, "0/r1/artifacts/model/MLmodel") == ("mnist-2", v1)
    registry.delete_model_version("mnist-2", v1, Actor(now=8, user_id=None))
    assert manifests.owner_of(STORE, "0/r1/artifacts/model/MLmodel") is None
    assert manifests.get("mnist-2", v1) is None
    with pytest.raises(ResourceDoesNotExist, match="name=mnist not found"):
        manifests.get("mnist", v1)  # the old name
    # A manifest for a version deleted before it was saved is dropped quietly.
    manifests.save(_manifest("mnist-2", v1, "x"))

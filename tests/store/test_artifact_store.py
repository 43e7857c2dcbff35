"""The artifact store contract, run against every backend by one parametrised fixture.

Add a backend by adding a param to `artifact_store`; every test below must then
pass unchanged. "s3" is SeaweedFS started once per session (or the external S3
named by MODELYARD_TEST_S3_URL, see tests/s3servers.py), each test under a fresh
prefix of one bucket, with S3's smallest part size so a few MiB already take the
multipart path.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from modelyard.errors import InvalidParameterValue, NotImplementedByServer, ResourceDoesNotExist
from modelyard.store.artifacts import (
    ArtifactStore,
    FileInfo,
    LocalArtifactStore,
    S3ArtifactStore,
    StoredFile,
)
from modelyard.store.artifacts.base import (
    CHUNK_SIZE,
    MULTIPART_DOWNLOAD_UNSUPPORTED,
    MULTIPART_UPLOAD_UNSUPPORTED,
    TEMP_PREFIX,
)
from modelyard.store.artifacts.hashing import Digest, parse_repr_digest, repr_digest
from modelyard.store.artifacts.paths import clean_artifact_path, resolve_under
from modelyard.store.artifacts.s3 import MIN_PART_SIZE


@pytest.fixture(params=["local", "s3"])
def artifact_store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "artifacts")
    if request.param == "s3":
        target = request.getfixturevalue("s3_target")
        return target.store(part_size=MIN_PART_SIZE)  # type: ignore[no-any-return]
    raise AssertionError(request.param)


def put(store: ArtifactStore, path: str, *chunks: bytes) -> int:
    return anyio.run(store.put, path, list(chunks))


async def _agen(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def put_async(store: ArtifactStore, path: str, chunks: list[bytes]) -> int:
    async def main() -> int:
        return await store.put(path, _agen(chunks))

    return anyio.run(main)


def read_all(store: ArtifactStore, path: str) -> bytes:
    async def main() -> bytes:
        return b"".join([chunk async for chunk in store.get(path)])

    return anyio.run(main)


def leftovers(store: ArtifactStore) -> list[str]:
    """In-flight uploads: temporary files of a local store, open multipart uploads on S3."""
    if isinstance(store, S3ArtifactStore):
        return store.incomplete_uploads()
    assert isinstance(store, LocalArtifactStore)
    names = [name for _, _, files in os.walk(store.root) for name in files]
    return [name for name in names if name.startswith(TEMP_PREFIX)]


# -- put / get -----------------------------------------------------------------------
def test_put_then_get_round_trips_bytes(artifact_store: ArtifactStore) -> None:
    assert put(artifact_store, "1/run/artifacts/model.pkl", b"abc", b"", b"def") == 6
    assert read_all(artifact_store, "1/run/artifacts/model.pkl") == b"abcdef"
    with artifact_store.open("1/run/artifacts/model.pkl") as f:
        assert f.read() == b"abcdef"
    assert artifact_store.exists("1/run/artifacts/model.pkl")
    assert artifact_store.exists("1/run")
    assert not artifact_store.exists("1/other")


def test_put_from_async_stream_batches_small_and_large_chunks(
    artifact_store: ArtifactStore,
) -> None:
    chunks = [os.urandom(1000) for _ in range(3000)] + [os.urandom(3 << 20), b"tail"]
    size = put_async(artifact_store, "big.bin", chunks)
    assert size == sum(map(len, chunks))
    assert read_all(artifact_store, "big.bin") == b"".join(chunks)


def test_get_streams_in_bounded_chunks(artifact_store: ArtifactStore) -> None:
    put(artifact_store, "f.bin", os.urandom(300_000))

    async def main() -> list[int]:
        return [len(c) async for c in artifact_store.get("f.bin", chunk_size=65536)]

    sizes = anyio.run(main)
    assert max(sizes) <= 65536 and sum(sizes) == 300_000


def test_put_replaces_an_existing_file(artifact_store: ArtifactStore) -> None:
    put(artifact_store, "a.txt", b"old")
    put(artifact_store, "a.txt", b"new contents")
    assert read_all(artifact_store, "a.txt") == b"new contents"
    assert artifact_store.list("") == [FileInfo("a.txt", False, 12)]


def test_stat_reads_small_files_and_describes_large_ones(artifact_store: ArtifactStore) -> None:
    put(artifact_store, "d/small.txt", b"hi")
    small = artifact_store.stat("d/small.txt", read_below=10)
    assert (small.path, small.size, small.content) == ("d/small.txt", 2, b"hi")
    big = artifact_store.stat("d/small.txt", read_below=2)
    assert isinstance(big, StoredFile) and big.content is None and big.size == 2


def test_missing_file_is_resource_does_not_exist(artifact_store: ArtifactStore) -> None:
    with pytest.raises(ResourceDoesNotExist, match=r"No such artifact: 'nope/x\.txt'"):
        artifact_store.stat("nope/x.txt")
    put(artifact_store, "file", b"x")
    with pytest.raises(ResourceDoesNotExist):
        artifact_store.stat("file/below")
    with pytest.raises(ResourceDoesNotExist):
        read_all(artifact_store, "nope")


def test_directory_is_not_a_file(artifact_store: ArtifactStore) -> None:
    put(artifact_store, "dir/f", b"x")
    with pytest.raises(InvalidParameterValue, match="refers to a directory"):
        artifact_store.stat("dir")
    with pytest.raises(InvalidParameterValue):
        put(artifact_store, "dir", b"y")
    with pytest.raises(InvalidParameterValue, match="parent"):
        put(artifact_store, "dir/f/g", b"y")


# -- atomicity ---------------------------------------------------------------------------
class Boom(Exception):
    pass


def _failing(after: list[bytes]) -> Iterator[bytes]:
    yield from after
    raise Boom()


def test_a_broken_sync_upload_leaves_nothing(artifact_store: ArtifactStore) -> None:
    with pytest.raises(Boom):
        anyio.run(artifact_store.put, "x/broken.bin", _failing([b"a" * 100_000]))
    assert not artifact_store.exists("x/broken.bin")
    assert artifact_store.list("x") == []
    assert leftovers(artifact_store) == []


# "large" has reached the disk (local) or sent a part (S3, 5 MiB parts) when it breaks.
@pytest.mark.parametrize("sent", [1000, 6 << 20], ids=["small", "large"])
def test_a_broken_async_upload_keeps_the_previous_file(
    artifact_store: ArtifactStore, sent: int
) -> None:
    put(artifact_store, "keep.bin", b"previous")

    async def chunks() -> AsyncIterator[bytes]:
        yield b"a" * sent
        raise Boom()

    async def main() -> None:
        await artifact_store.put("keep.bin", chunks())

    with pytest.raises(Boom):
        anyio.run(main)
    assert read_all(artifact_store, "keep.bin") == b"previous"
    assert leftovers(artifact_store) == []


def test_a_cancelled_upload_leaves_nothing(artifact_store: ArtifactStore) -> None:
    started = anyio.Event()

    async def endless() -> AsyncIterator[bytes]:
        # Past one batch (local: a temporary file exists) and one part (S3: an
        # open multipart upload holds it).
        yield b"a" * max(CHUNK_SIZE + 1, MIN_PART_SIZE + 1)
        started.set()
        await anyio.sleep_forever()
        yield b""  # pragma: no cover

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(artifact_store.put, "cancelled.bin", endless())
            await started.wait()
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert not artifact_store.exists("cancelled.bin")
    assert leftovers(artifact_store) == []


# -- content hashes (put_hashed) -------------------------------------------------------
def put_hashed(store: ArtifactStore, path: str, chunks: list[bytes], *, sync: bool) -> Digest:
    async def main() -> Digest:
        return await store.put_hashed(path, list(chunks) if sync else _agen(chunks))

    return anyio.run(main)


# "multipart" is above one S3 part (5 MiB here) and one local write batch.
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("size", [0, 70_000, (6 << 20) + 17], ids=["empty", "small", "multipart"])
def test_put_hashed_returns_the_sha256_of_what_was_stored(
    artifact_store: ArtifactStore, size: int, sync: bool
) -> None:
    data = os.urandom(size)
    chunks = [data[i : i + 100_000] for i in range(0, size, 100_000)] or [b""]
    digest = put_hashed(artifact_store, "h/model.bin", chunks, sync=sync)
    assert digest == Digest(size, hashlib.sha256(data).hexdigest())
    assert read_all(artifact_store, "h/model.bin") == data
    stored = artifact_store.stat("h/model.bin")
    if isinstance(artifact_store, S3ArtifactStore):
        # Kept in the object's metadata, known without reading the object; also
        # on the eager small-file path, which reads a range.
        assert stored.sha256 == digest.sha256
        assert artifact_store.stat("h/model.bin", read_below=1 << 20).sha256 == digest.sha256
    else:
        assert stored.sha256 is None  # a folder keeps bytes only; the database has the hash


def test_plain_put_records_no_hash_and_a_broken_hashed_put_leaves_nothing(
    artifact_store: ArtifactStore,
) -> None:
    put(artifact_store, "plain.bin", b"abc")
    assert artifact_store.stat("plain.bin").sha256 is None

    async def main() -> None:
        await artifact_store.put_hashed("x/broken.bin", _failing([b"a" * (6 << 20)]))

    with pytest.raises(Boom):
        anyio.run(main)
    assert not artifact_store.exists("x/broken.bin")
    assert leftovers(artifact_store) == []


def test_location_names_the_root_stably(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    if isinstance(artifact_store, S3ArtifactStore):
        twin: ArtifactStore = S3ArtifactStore(
            artifact_store.bucket, artifact_store.prefix + "/", artifact_store.connection
        )
        assert artifact_store.location.startswith(f"s3://{artifact_store.bucket}/")
    else:
        assert isinstance(artifact_store, LocalArtifactStore)
        twin = LocalArtifactStore(str(artifact_store.root) + "/")
        assert artifact_store.location == str(artifact_store.root.resolve())
    assert twin.location == artifact_store.location


def test_repr_digest_round_trips_and_rejects_other_algorithms() -> None:
    sha = hashlib.sha256(b"model").hexdigest()
    header = repr_digest(sha)
    assert (
        header == "sha-256=:" + base64.b64encode(hashlib.sha256(b"model").digest()).decode() + ":"
    )
    assert parse_repr_digest(header) == sha
    assert parse_repr_digest("sha-512=:AAAA:, " + header) == sha
    assert parse_repr_digest("sha-512=:AAAA:") is None
    assert parse_repr_digest("sha-256=:not base64!:") is None
    assert parse_repr_digest(None) is None


def test_in_flight_uploads_are_hidden_and_their_names_reserved(
    artifact_store: ArtifactStore,
) -> None:
    put(artifact_store, "d/real.txt", b"x")
    if isinstance(artifact_store, LocalArtifactStore):
        (artifact_store.root / "d" / f"{TEMP_PREFIX}abc").write_bytes(b"partial")
    assert [f.path for f in artifact_store.list("d")] == ["d/real.txt"]
    with pytest.raises(InvalidParameterValue, match="reserved"):
        put(artifact_store, f"d/{TEMP_PREFIX}mine", b"x")


# -- list ----------------------------------------------------------------------------------
def test_list_returns_direct_children_sorted_dirs_without_size(
    artifact_store: ArtifactStore,
) -> None:
    put(artifact_store, "r/artifacts/model/MLmodel", b"flavors: {}\n")
    put(artifact_store, "r/artifacts/b.txt", b"bb")
    put(artifact_store, "r/artifacts/a.txt", b"a")
    assert artifact_store.list("r/artifacts") == [
        FileInfo("r/artifacts/a.txt", False, 1),
        FileInfo("r/artifacts/b.txt", False, 2),
        FileInfo("r/artifacts/model", True, None),
    ]
    assert artifact_store.list("r/artifacts/") == artifact_store.list("r/artifacts")
    assert artifact_store.list("") == [FileInfo("r", True, None)]
    assert artifact_store.list() == [FileInfo("r", True, None)]


def test_list_of_missing_path_or_file_is_empty(artifact_store: ArtifactStore) -> None:
    assert artifact_store.list("") == []  # the root does not even exist yet
    put(artifact_store, "f.txt", b"x")
    assert artifact_store.list("missing") == []
    assert artifact_store.list("f.txt") == []


# -- delete ---------------------------------------------------------------------------------
def test_delete_file_and_tree(artifact_store: ArtifactStore) -> None:
    put(artifact_store, "t/a/1", b"1")
    put(artifact_store, "t/a/b/2", b"2")
    put(artifact_store, "t/c", b"3")
    artifact_store.delete("t/c")
    assert [f.path for f in artifact_store.list("t")] == ["t/a"]
    artifact_store.delete("t/a")
    assert artifact_store.list("t") == []
    artifact_store.delete("t/never-existed")  # not an error, as in MLflow


def test_delete_refuses_the_root(artifact_store: ArtifactStore) -> None:
    put(artifact_store, "keep", b"x")
    for root in ("", "/", ".", "./"):
        with pytest.raises(InvalidParameterValue):
            artifact_store.delete(root)
    assert artifact_store.exists("keep")


# -- multipart: MLflow's answer for a repository without support -----------------------------
# (Local only: S3 supports multipart uploads, see tests/store/test_s3_artifact_store.py.)
def test_multipart_hooks_answer_as_mlflow_for_local(tmp_path: Path) -> None:
    artifact_store = LocalArtifactStore(tmp_path / "artifacts")
    with pytest.raises(NotImplementedByServer) as exc:
        artifact_store.create_multipart_upload("d", "/tmp/x.bin", 3)
    assert exc.value.message == MULTIPART_UPLOAD_UNSUPPORTED
    assert exc.value.http_status == 501
    with pytest.raises(NotImplementedByServer, match=MULTIPART_UPLOAD_UNSUPPORTED):
        artifact_store.complete_multipart_upload("d", "x.bin", "id", [])
    with pytest.raises(NotImplementedByServer, match=MULTIPART_UPLOAD_UNSUPPORTED):
        artifact_store.abort_multipart_upload("d", "x.bin", "id")
    with pytest.raises(NotImplementedByServer, match=MULTIPART_DOWNLOAD_UNSUPPORTED):
        artifact_store.presigned_download("d/x.bin", 300)


# -- traversal ---------------------------------------------------------------------------------
ATTACKS = [
    "../outside.txt",
    "a/../../outside.txt",
    "a/..",
    "/etc/passwd",
    "//etc/passwd",
    "%2e%2e/outside.txt",
    "%2E%2E%2Foutside.txt",
    "a%2fb",
    "%252e%252e/outside.txt",
    "%25252e%25252e/outside.txt",
    "..%2Foutside.txt",
    "..%5coutside.txt",
    "a\\..\\..\\outside.txt",
    "C:/Windows/win.ini",
    "c:outside.txt",
    "file:///etc/passwd",
    "ok\x00.txt",
    "ok%00.txt",
    "a/b\nc",
    "x#y",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_traversal_is_refused_everywhere(artifact_store: ArtifactStore, attack: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid artifact path"):
        put(artifact_store, attack, b"pwned")
    with pytest.raises(InvalidParameterValue):
        artifact_store.stat(attack)
    with pytest.raises(InvalidParameterValue):
        artifact_store.list(attack)
    with pytest.raises(InvalidParameterValue):
        artifact_store.delete(attack)
    with pytest.raises(InvalidParameterValue):
        artifact_store.exists(attack)


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    root.mkdir()
    (root / "escape").symlink_to(outside)
    (root / "leaf").symlink_to(outside / "secret.txt")
    (root / "dangling").symlink_to(outside / "new.txt")
    (root / "inside").symlink_to(root / "real")
    store = LocalArtifactStore(root)
    for path in ("escape/secret.txt", "leaf", "escape"):
        with pytest.raises(InvalidParameterValue, match="outside the artifact root"):
            store.stat(path)
    with pytest.raises(InvalidParameterValue):
        store.list("escape")
    with pytest.raises(InvalidParameterValue):
        put(store, "escape/new.txt", b"x")
    with pytest.raises(InvalidParameterValue):
        put(store, "dangling", b"x")
    with pytest.raises(InvalidParameterValue):
        store.delete("escape")
    assert not (outside / "new.txt").exists()
    assert (outside / "secret.txt").read_bytes() == b"secret"
    # A link that stays inside the root is fine.
    put(store, "real/f.txt", b"ok")
    assert store.stat("inside/f.txt", read_below=10).content == b"ok"


def test_clean_artifact_path_normal_forms() -> None:
    assert clean_artifact_path("a//b/./c/") == "a/b/c"
    assert clean_artifact_path(None) == ""
    assert clean_artifact_path("100%.txt") == "100%.txt"
    # One decode happened in the HTTP layer already; the name is kept as delivered.
    assert clean_artifact_path("50%20off.txt") == "50%20off.txt"
    assert clean_artifact_path("..a/b..") == "..a/b.."
    with pytest.raises(InvalidParameterValue, match="not the root"):
        clean_artifact_path("./", allow_root=False)


def test_local_names_too_long_for_the_file_system_are_bad_input(tmp_path: Path) -> None:
    """Found by the 40,000-request fuzz run: a 300-byte name was an OSError (500)."""
    store = LocalArtifactStore(tmp_path)
    long_name = "o\u0301" * 100  # 300 bytes of UTF-8, 200 characters
    for path in (f"run/{long_name}", f"{long_name}/model.pkl"):
        with pytest.raises(InvalidParameterValue, match="at most 255 bytes per file"):
            anyio.run(store.put, path, [b"x"])
        with pytest.raises(InvalidParameterValue, match="at most 255 bytes per file"):
            store.stat(path)
        for call in (store.list, store.exists, store.delete):
            with pytest.raises(InvalidParameterValue, match="at most 255 bytes per file"):
                call(path)
    deep = "/".join(["d" * 200] * 25)  # each name fits, the whole path does not
    with pytest.raises(InvalidParameterValue, match="fewer than 4096 bytes"):
        anyio.run(store.put, deep, [b"x"])
    anyio.run(store.put, "run/" + "n" * 255, [b"fits"])  # the limit itself is allowed
    assert store.stat("run/" + "n" * 255).size == 4
    # A root (an experiment's artifact_location) with a name too long: the same answer.
    with pytest.raises(InvalidParameterValue, match="at most 255 bytes per file"):
        LocalArtifactStore(tmp_path / long_name).list("")


def test_resolve_under_stays_in_root(tmp_path: Path) -> None:
    assert resolve_under(tmp_path, "a/b") == tmp_path / "a" / "b"
    assert resolve_under(tmp_path, "") == tmp_path
    with pytest.raises(InvalidParameterValue, match=r"'\.\.' segments"):
        resolve_under(tmp_path, "a/../../b")

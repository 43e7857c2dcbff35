"""Artifacts as plain files in a local folder (MLflow's layout, so folders are interchangeable).

Uploads are written to a hidden temporary file in the destination directory and
renamed over the target when complete: readers never see a partial file, and a
failed upload is removed. Like MLflow we do not fsync before the rename; a
machine crash may lose a just-finished upload, which the client then retries.

A process killed mid-upload (SIGKILL, power loss) cannot remove its temporary
file. The writer holds an exclusive `flock` on it for as long as it writes; the
kernel drops the lock when the process dies, however it dies, so at start-up
`remove_abandoned_uploads` deletes exactly the temporary files nobody holds,
without guessing from ages, even with several servers sharing the folder.

A full disk (ENOSPC, a quota, a file-size limit) becomes `StorageFull` here,
once, and the partial file is removed like any failed upload's.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import secrets
import shutil
import stat as stat_mod
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist, StorageFull
from modelyard.store.artifacts.base import (
    CHUNK_SIZE,
    TEMP_PREFIX,
    ArtifactStore,
    Chunks,
    FileInfo,
    StoredFile,
)
from modelyard.store.artifacts.paths import clean_artifact_path, resolve_under

try:
    import fcntl
except ImportError:  # Windows: no flock, so no start-up sweep either
    fcntl = None  # type: ignore[assignment]

_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation

# Our own temporary files: MLflow's prefix (so listings hide them either way)
# plus a mark, so the start-up sweep never touches an `mlflow server`'s
# in-flight upload in a shared folder (those carry no lock to test).
OWN_TEMP_PREFIX = f"{TEMP_PREFIX}my."

_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


@contextlib.contextmanager
def _full_disk_as_error(rel: str) -> Iterator[None]:
    """Turn the OS's 'no space' errors into StorageFull (HTTP 507); others pass unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _FULL_ERRNOS:
            raise
        raise StorageFull(
            f"Cannot store artifact {rel!r}: the artifact store is out of space "
            f"({exc.strerror}). Nothing was stored; free space on the server "
            "and upload it again."
        ) from exc


def _create_temp(directory: Path) -> tuple[BinaryIO, Path]:
    # os.open with mode 0o666 lets the kernel apply the umask, so the published
    # file gets the permissions open() would give (mkstemp's 0600 would hide
    # artifacts from other local users; reading the umask is not thread-safe).
    while True:
        temp = directory / f"{OWN_TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except FileExistsError:
            continue
        if fcntl is not None:
            # Held until the file is published or discarded, and dropped by the
            # kernel if we die. A sweeper may have taken the lock in the instant
            # before us and unlinked the file: then the name no longer leads to
            # our file, and we start again with a new one.
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                still_ours = os.stat(temp).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                still_ours = False
            if not still_ours:
                os.close(fd)
                continue
        return os.fdopen(fd, "wb"), temp


def _remove_if_abandoned(path: str) -> bool:
    """Delete the temporary file at `path` if no live process holds its lock."""
    assert fcntl is not None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False  # gone already, or not ours to open
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live upload
        # Unlinked while we hold the lock, so a writer that created it and is
        # waiting for the lock sees the name gone and starts over.
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


_Staged = tuple[BinaryIO, Path, Path]  # (open temp file, its path, final path)


class LocalArtifactStore(ArtifactStore):
    """Files under `root`; the folder is created on the first upload, not here."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    @property
    def location(self) -> str:
        return os.path.abspath(self.root)

    # -- writing ---------------------------------------------------------------
    def _stage(self, path: str, staged: builtins.list[_Staged]) -> None:
        """Create the temporary file for an upload to `path` and record it in `staged`.

        The result travels through `staged` rather than a return value so that
        the caller can still clean up if it is cancelled while this thread runs.
        """
        target = resolve_under(self.root, path, allow_root=False)
        if target.name.startswith(TEMP_PREFIX):
            raise InvalidParameterValue(
                f"Invalid artifact path {path!r}: names starting with {TEMP_PREFIX!r} "
                "are reserved for uploads in progress."
            )
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidParameterValue(
                f"Invalid artifact path {path!r}: a parent of it is a file, not a directory."
            ) from None
        if target.is_dir():
            raise InvalidParameterValue(
                f"Invalid artifact path {path!r}: it is a directory, not a file."
            )
        with _full_disk_as_error(path):
            file, temp = _create_temp(target.parent)
        staged.append((file, temp, target))

    @staticmethod
    def _publish(file: BinaryIO, temp: Path, target: Path) -> None:
        if fcntl is None:
            file.close()  # Windows cannot rename an open file
            os.replace(temp, target)
            return
        # Flush first so a full disk surfaces before the rename; rename while
        # still holding the lock, so no sweeper can take the file from under us.
        file.flush()
        os.replace(temp, target)
        file.close()

    @staticmethod
    def _discard(file: BinaryIO, temp: Path) -> None:
        # Plain system calls, not thread hops: in `put` this runs while the task
        # may be cancelled (client gone), where an await would be interrupted.
        # Unlink before closing, while the lock still says the file is ours.
        temp.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a full disk fails the final flush too
            file.close()

    async def put(self, path: str, chunks: Chunks) -> int:
        if not isinstance(chunks, AsyncIterable):
            return await anyio.to_thread.run_sync(self._put_sync, path, chunks)
        # Read up to one batch first: a small file (the common case: metrics
        # files, MLmodel, configs) is then staged, written and published in a
        # single thread hop instead of three.
        stream = aiter(chunks)
        head = bytearray()
        async for chunk in stream:
            head += chunk
            if len(head) >= CHUNK_SIZE:
                break
        else:
            return await anyio.to_thread.run_sync(self._put_sync, path, (head,))
        staged: builtins.list[_Staged] = []
        published = False
        try:
            await anyio.to_thread.run_sync(self._stage, path, staged)
            file, temp, target = staged[0]
            with _full_disk_as_error(path):
                await anyio.to_thread.run_sync(file.write, head)
                size = len(head) + await self._write_async(file, stream)
                await anyio.to_thread.run_sync(self._publish, file, temp, target)
            published = True
            return size
        finally:
            if staged and not published:
                self._discard(*staged[0][:2])

    def _put_sync(self, path: str, chunks: Iterable[bytes | bytearray]) -> int:
        staged: builtins.list[_Staged] = []
        published = False
        try:
            self._stage(path, staged)
            file, temp, target = staged[0]
            with _full_disk_as_error(path):
                size = self._write_sync(file, chunks)
                self._publish(file, temp, target)
            published = True
            return size
        finally:
            if staged and not published:
                self._discard(*staged[0][:2])

    @staticmethod
    async def _write_async(file: BinaryIO, chunks: AsyncIterable[bytes]) -> int:
        # Network reads arrive in pieces of a few KiB; gather them into ~1 MiB
        # batches so each thread hop writes a worthwhile amount.
        size = 0
        batch = bytearray()
        async for chunk in chunks:
            size += len(chunk)
            if not batch and len(chunk) >= CHUNK_SIZE:
                await anyio.to_thread.run_sync(file.write, chunk)
                continue
            batch += chunk
            if len(batch) >= CHUNK_SIZE:
                await anyio.to_thread.run_sync(file.write, batch)
                batch = bytearray()
        if batch:
            await anyio.to_thread.run_sync(file.write, batch)
        return size

    @staticmethod
    def _write_sync(file: BinaryIO, chunks: Iterable[bytes | bytearray]) -> int:
        size = 0
        for chunk in chunks:
            file.write(chunk)
            size += len(chunk)
        return size

    # -- reading ---------------------------------------------------------------
    def _open_file(self, path: str) -> tuple[BinaryIO, os.stat_result, str, Path]:
        rel = clean_artifact_path(path)
        target = resolve_under(self.root, rel)
        try:
            file = open(target, "rb")  # noqa: SIM115 - returned to the caller
        except (FileNotFoundError, NotADirectoryError):
            raise ResourceDoesNotExist(f"No such artifact: '{rel}'") from None
        except IsADirectoryError:
            raise InvalidParameterValue(
                f"Artifact path refers to a directory, not a file: '{rel}'"
            ) from None
        try:
            st = os.fstat(file.fileno())
            if not stat_mod.S_ISREG(st.st_mode):
                # Linux opens directories for reading without complaint.
                raise InvalidParameterValue(
                    f"Artifact path refers to a directory, not a file: '{rel}'"
                )
        except BaseException:
            file.close()
            raise
        return file, st, rel, target

    def stat(self, path: str, *, read_below: int = 0) -> StoredFile:
        file, st, rel, target = self._open_file(path)
        with file:
            content = file.read() if st.st_size < read_below else None
        return StoredFile(
            path=rel,
            size=st.st_size,
            modified=st.st_mtime,
            local_path=target,
            content=content,
        )

    def open(self, path: str) -> BinaryIO:
        return self._open_file(path)[0]

    async def get(self, path: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        file, *_ = await anyio.to_thread.run_sync(self._open_file, path)
        try:
            while chunk := await anyio.to_thread.run_sync(file.read, chunk_size):
                yield chunk
        finally:
            file.close()

    def list(self, path: str = "") -> builtins.list[FileInfo]:
        rel = clean_artifact_path(path)
        directory = resolve_under(self.root, rel)
        prefix = f"{rel}/" if rel else ""
        infos: builtins.list[FileInfo] = []
        try:
            entries = os.scandir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return []
        with entries:
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                try:
                    if entry.is_dir():
                        infos.append(FileInfo(prefix + entry.name, True, None))
                    else:
                        infos.append(FileInfo(prefix + entry.name, False, entry.stat().st_size))
                except FileNotFoundError:
                    continue  # deleted while we listed
        infos.sort(key=lambda info: info.path)
        return infos

    def exists(self, path: str) -> bool:
        return resolve_under(self.root, path).exists()

    def remove_abandoned_uploads(self, idle_seconds: float) -> int:
        """Delete our temporary files that no live process holds (see the module docstring).

        `idle_seconds` is not needed: the lock tells a live upload from a dead
        one exactly. Walks the whole tree, so start-up runs it in the background.
        """
        if fcntl is None or not self.root.is_dir():
            return 0
        removed = 0
        for directory, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(OWN_TEMP_PREFIX):
                    removed += _remove_if_abandoned(os.path.join(directory, name))
        return removed

    def delete(self, path: str) -> None:
        target = resolve_under(self.root, path, allow_root=False)
        if target.is_symlink() or target.is_file():
            target.unlink(missing_ok=True)
        elif target.is_dir():
            shutil.rmtree(target, ignore_errors=False)

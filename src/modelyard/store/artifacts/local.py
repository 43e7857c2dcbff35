"""Artifacts as plain files in a local folder (MLflow's layout, so folders are interchangeable).

Uploads are written to a hidden temporary file in the destination directory and
renamed over the target when complete: readers never see a partial file, and a
failed upload is removed. Like MLflow we do not fsync before the rename; a
machine crash may lose a just-finished upload, which the client then retries.
"""

from __future__ import annotations

import builtins
import os
import secrets
import shutil
import stat as stat_mod
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.store.artifacts.base import (
    CHUNK_SIZE,
    TEMP_PREFIX,
    ArtifactStore,
    Chunks,
    FileInfo,
    StoredFile,
)
from modelyard.store.artifacts.paths import clean_artifact_path, resolve_under

_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def _create_temp(directory: Path) -> tuple[BinaryIO, Path]:
    # os.open with mode 0o666 lets the kernel apply the umask, so the published
    # file gets the permissions open() would give (mkstemp's 0600 would hide
    # artifacts from other local users; reading the umask is not thread-safe).
    while True:
        temp = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except FileExistsError:
            continue
        return os.fdopen(fd, "wb"), temp


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
        file, temp = _create_temp(target.parent)
        staged.append((file, temp, target))

    @staticmethod
    def _publish(file: BinaryIO, temp: Path, target: Path) -> None:
        file.close()
        os.replace(temp, target)

    @staticmethod
    def _discard(file: BinaryIO, temp: Path) -> None:
        # Plain system calls, not thread hops: in `put` this runs while the task
        # may be cancelled (client gone), where an await would be interrupted.
        file.close()
        temp.unlink(missing_ok=True)

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

    def delete(self, path: str) -> None:
        target = resolve_under(self.root, path, allow_root=False)
        if target.is_symlink() or target.is_file():
            target.unlink(missing_ok=True)
        elif target.is_dir():
            shutil.rmtree(target, ignore_errors=False)

"""Where an artifact URI points, and moving files there and back.

An artifact root is one of:

* `mlflow-artifacts:/<path>` (what a server serving artifacts gives runs): the
  proxied routes `/api/2.0/mlflow-artifacts/artifacts/<path>` of the tracking
  server, or of `host:port` for `mlflow-artifacts://host:port/<path>`;
* `http(s)://host/api/2.0/mlflow-artifacts/artifacts/<path>`: the same routes,
  spelled out;
* `file:///…` or a plain path (a server run with `--no-serve-artifacts` on this
  machine): the file system, as MLflow's client does it.

Anything else (`s3://…`, `gs://…`) needs that store's own SDK, which the light
client does not carry: such URIs are refused with a message saying so.

Uploads stream each file in 1 MiB chunks with its Content-Length (never a
whole-file read); downloads stream into a temporary file beside the target
and rename it into place, so an interrupted download leaves no partial file
under the final name. Each download is checked against the `Repr-Digest` the
server sends (client/digests.py); a mismatch raises and keeps nothing.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote, unquote, urlsplit

from modelyard.client.digests import DownloadCheck
from modelyard.client.progress import Progress
from modelyard.client.rest import ARTIFACTS_API, InvalidArgument, Rest
from modelyard.client.wire import FileInfo, file_info
from modelyard.errors import ResourceDoesNotExist

CHUNK = 1024 * 1024


class ArtifactLocation(Protocol):
    """An artifact root; `rel` paths are POSIX, relative to it ("" is the root)."""

    uri: str

    def list(self, rel: str) -> list[FileInfo]:
        """Direct children of `rel` (paths are basenames); [] for a file or nothing."""
        ...

    def put(self, rel: str, src: Path, progress: Progress | None) -> None: ...

    def get(self, rel: str, dst: BinaryIO, progress: Progress | None) -> None: ...


def join(*parts: str) -> str:
    return posixpath.join(*[p.strip("/") for p in parts if p.strip("/")]) if parts else ""


def check_rel(path: str | None) -> str:
    """An artifact path from a user: relative, no `..`, no empty segments."""
    if not path:
        return ""
    clean = path.replace("\\", "/").strip("/")
    parts = clean.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\0" in clean:
        raise InvalidArgument(f"Invalid artifact path {path!r}: use a relative path without '..'.")
    return clean


@dataclass
class ProxiedArtifacts:
    """The mlflow-artifacts routes; `origin` "" means the tracking server itself."""

    rest: Rest
    origin: str
    root: str
    uri: str

    def _path(self, rel: str) -> str:
        return f"{self.origin}{ARTIFACTS_API}/{quote(join(self.root, rel), safe='/')}"

    def list(self, rel: str) -> list[FileInfo]:
        path = join(self.root, rel)
        answer = self.rest.call("GET", f"{self.origin}{ARTIFACTS_API}", {"path": path})
        # MLflow answers basenames; take the last segment whatever a server sends.
        return [
            FileInfo(f.path.rsplit("/", 1)[-1], f.is_dir, f.file_size)
            for f in (file_info(d) for d in answer.get("files") or ())
        ]

    def put(self, rel: str, src: Path, progress: Progress | None) -> None:
        size = src.stat().st_size
        with open(src, "rb") as fh:
            self.rest.send(
                "PUT",
                self._path(rel),
                content=_chunks(fh, progress),
                headers={
                    "Content-Length": str(size),
                    "Content-Type": "application/octet-stream",
                },
            )

    def get(self, rel: str, dst: BinaryIO, progress: Progress | None) -> None:
        with self.rest.stream("GET", self._path(rel)) as response:
            check = DownloadCheck(f"{self.uri}/{rel}", response.headers)
            for chunk in response.iter_bytes(CHUNK):
                dst.write(chunk)
                check.update(chunk)
                if progress is not None:
                    progress.advance(len(chunk))
            # Raising here makes `download` discard the temporary file.
            check.finish()


@dataclass
class LocalArtifacts:
    """A file-system artifact root (server without artifact serving, same machine)."""

    root: Path
    uri: str

    def _file(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("/")) if rel else self.root

    def list(self, rel: str) -> list[FileInfo]:
        target = self._file(rel)
        if not target.is_dir():
            return []
        return sorted(
            (
                FileInfo(e.name, e.is_dir(), None if e.is_dir() else e.stat().st_size)
                for e in os.scandir(target)
            ),
            key=lambda f: f.path,
        )

    def put(self, rel: str, src: Path, progress: Progress | None) -> None:
        target = self._file(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as fh, _atomic_file(target) as out:
            for chunk in _chunks(fh, progress):
                out.write(chunk)

    def get(self, rel: str, dst: BinaryIO, progress: Progress | None) -> None:
        source = self._file(rel)
        if not source.is_file():
            raise ResourceDoesNotExist(f"No artifact at {self.uri}/{rel}")
        with open(source, "rb") as fh:
            for chunk in _chunks(fh, progress):
                dst.write(chunk)


def location(rest: Rest, uri: str) -> ArtifactLocation:
    """The artifact root an artifact URI names (see the module docstring)."""
    parts = urlsplit(uri)
    if parts.scheme == "mlflow-artifacts":
        origin = ""
        if parts.netloc:
            scheme = urlsplit(rest.base_url).scheme
            origin = f"{scheme}://{parts.netloc}"
        return ProxiedArtifacts(rest, origin, unquote(parts.path).strip("/"), uri)
    if parts.scheme in ("http", "https"):
        marker = ARTIFACTS_API + "/"
        path = unquote(parts.path)
        if marker in path + "/":
            root = (path + "/").split(marker, 1)[1]
            return ProxiedArtifacts(rest, f"{parts.scheme}://{parts.netloc}", root.strip("/"), uri)
    if parts.scheme == "file":
        return LocalArtifacts(Path(unquote(parts.path)), uri)
    if parts.scheme == "" or (len(parts.scheme) == 1 and os.name == "nt"):
        return LocalArtifacts(Path(uri), uri)
    raise InvalidArgument(
        f"Artifact location {uri!r} is not served by the tracking server and the light "
        "modelyard client has no driver for it. Start the server with artifact serving "
        "(the default: --serve-artifacts) so artifacts go through "
        f"{ARTIFACTS_API}, or use the stock mlflow client."
    )


def _chunks(fh: BinaryIO, progress: Progress | None) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        if progress is not None:
            progress.advance(len(chunk))
        yield chunk


_UMASK: list[int] = []


def _umask() -> int:
    if not _UMASK:  # read once: os.umask can only be read by setting it
        current = os.umask(0o022)
        os.umask(current)
        _UMASK.append(current)
    return _UMASK[0]


class _atomic_file:
    """Write to a temporary file beside `target`; rename over it on success."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> BinaryIO:
        fd, tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", dir=self.target.parent)
        self.tmp = Path(tmp)
        # mkstemp makes the file private (0600); give it the mode open() would.
        os.chmod(fd, 0o666 & ~_umask())
        self.fh: BinaryIO = os.fdopen(fd, "wb")
        return self.fh

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.fh.close()
        if exc_type is None:
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)


# -- trees ---------------------------------------------------------------------
def local_files(src: Path) -> list[tuple[Path, str]]:
    """(file, POSIX path relative to `src`) for every file under a directory."""
    out: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames):
            out.append((base / name, (base / name).relative_to(src).as_posix()))
    return out


def upload(
    loc: ArtifactLocation,
    files: list[tuple[Path, str]],
    progress: Progress | None = None,
    label: str = "upload",
) -> None:
    """Upload (local file, artifact path) pairs, one stream at a time."""
    if progress is not None:
        progress.begin(sum(f.stat().st_size for f, _ in files), label)
    try:
        for src, rel in files:
            loc.put(rel, src, progress)
    finally:
        if progress is not None:
            progress.end()


def walk(loc: ArtifactLocation, rel: str) -> list[FileInfo]:
    """Every file under `rel`, paths relative to `rel`, depth first."""
    out: list[FileInfo] = []
    for entry in loc.list(rel):
        if entry.path in ("", ".", "..") or "\\" in entry.path:
            # A listing names children; anything else would write outside `dst`.
            raise InvalidArgument(f"Refusing artifact name {entry.path!r} listed under {rel!r}")
        child = join(rel, entry.path)
        if entry.is_dir:
            out.extend(
                FileInfo(join(entry.path, f.path), False, f.file_size) for f in walk(loc, child)
            )
        else:
            out.append(FileInfo(entry.path, False, entry.file_size))
    return out


def download(
    loc: ArtifactLocation,
    rel: str,
    dst: Path,
    progress: Progress | None = None,
    label: str = "download",
) -> Path:
    """Download the file or directory `rel` to `dst` and return `dst`.

    A directory's files land under `dst` (created as needed); a single file is
    written to `dst` itself, or into it when `dst` is an existing directory.
    """
    files = walk(loc, rel)
    single = not files and rel != ""
    if single and dst.is_dir():
        dst = dst / posixpath.basename(rel)
    total = sum(f.file_size or 0 for f in files) if files else None
    if progress is not None:
        progress.begin(total, label)
    try:
        if single:
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                with _atomic_file(dst) as out:
                    loc.get(rel, out, progress)
            except ResourceDoesNotExist:
                raise ResourceDoesNotExist(f"No artifact at {loc.uri}/{rel}") from None
            return dst
        dst.mkdir(parents=True, exist_ok=True)
        for f in files:
            target = dst.joinpath(*f.path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            with _atomic_file(target) as out:
                loc.get(join(rel, f.path), out, progress)
        return dst
    finally:
        if progress is not None:
            progress.end()

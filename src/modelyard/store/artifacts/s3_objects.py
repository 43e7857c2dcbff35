"""The base of the S3 artifact store: one bucket and prefix, its keys, and the checks
every operation shares (errors translated once, file-versus-directory rules).

S3 accepts both `a` and `a/b` as keys, which would list `a` twice (as a file
and as a directory). The local store refuses that, and so do we: before an
upload we check, concurrently, that no ancestor is a file and that the target
is not a directory. That costs one extra round trip per upload (the checks run
in parallel) and is not airtight against two clients racing to create `a` and
`a/b`, which MLflow's S3 repository does not attempt at all.

Uploads (`s3_uploads.py`) and reads, listings and deletes (`s3.py`) build on it.
"""

from __future__ import annotations

import builtins
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, Self, TypeVar

from modelyard.errors import InvalidParameterValue, ModelyardError, ResourceDoesNotExist
from modelyard.store.artifacts.base import TEMP_PREFIX
from modelyard.store.artifacts.paths import clean_artifact_path, join_artifact_path
from modelyard.store.artifacts.s3_connection import MIN_PART_SIZE, S3Connection, parse_s3_uri
from modelyard.store.artifacts.s3_errors import is_not_found, raise_translated

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")


class S3Objects:
    """The bucket and prefix an S3 store works under, and the helpers every operation
    shares; `s3.S3ArtifactStore` is the complete store."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        connection: S3Connection | None = None,
        *,
        part_size: int | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = clean_artifact_path(prefix)
        self.connection = connection or S3Connection()
        self.part_size = part_size or self.connection.options.part_size
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 part size must be at least {MIN_PART_SIZE} bytes")

    @classmethod
    def from_uri(
        cls, location: str, connection: S3Connection | None = None, *, part_size: int | None = None
    ) -> Self:
        bucket, prefix = parse_s3_uri(location)
        return cls(bucket, prefix, connection, part_size=part_size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def client(self) -> S3Client:
        return self.connection.client

    # -- keys and errors ---------------------------------------------------------------
    def _key(self, rel: str) -> str:
        return join_artifact_path(self.prefix, rel)

    def _dir_prefix(self, rel: str) -> str:
        key = self._key(rel)
        return f"{key}/" if key else ""

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def _fail(self, exc: Exception, rel: str) -> NoReturn:
        """Translate a botocore error, once, at the store boundary (see s3_errors)."""
        raise_translated(exc, bucket=self.bucket, key=self._key(rel), rel=rel)

    def _call(self, rel: str, method: Callable[..., T], **kwargs: Any) -> T:
        try:
            return method(**kwargs)
        except ModelyardError:
            raise
        except Exception as exc:
            self._fail(exc, rel)

    def _is_object(self, rel: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(rel))
        except Exception as exc:
            if is_not_found(exc):
                return False
            self._fail(exc, rel)
        return True

    def _is_dir(self, rel: str) -> bool:
        answer = self._call(
            rel,
            self.client.list_objects_v2,
            Bucket=self.bucket,
            Prefix=self._dir_prefix(rel),
            MaxKeys=1,
        )
        return int(answer.get("KeyCount", 0)) > 0

    def _upload_target(self, path: str) -> tuple[str, str]:
        rel = clean_artifact_path(path, allow_root=False)
        if posixpath.basename(rel).startswith(TEMP_PREFIX):
            # Reserved in every store, so a tree copied between backends keeps its meaning.
            raise InvalidParameterValue(
                f"Invalid artifact path {path!r}: names starting with {TEMP_PREFIX!r} "
                "are reserved for uploads in progress."
            )
        return self._key(rel), rel

    def _check_tree(self, key: str, rel: str) -> None:
        """Refuse to write a file over a directory or below a file (see the module doc)."""
        segments = rel.split("/")
        ancestors = ["/".join(segments[:i]) for i in range(1, len(segments))]
        checks: builtins.list[Callable[[], bool]] = [lambda: self._is_dir(rel)]
        checks += [lambda a=a: self._is_object(a) for a in ancestors]  # type: ignore[misc]
        is_dir, *files = self.connection.run_concurrently(checks)
        if is_dir:
            raise InvalidParameterValue(
                f"Invalid artifact path {rel!r}: it is a directory, not a file."
            )
        if any(files):
            raise InvalidParameterValue(
                f"Invalid artifact path {rel!r}: a parent of it is a file, not a directory."
            )

    def _not_a_file(self, rel: str) -> NoReturn:
        if rel == "" or self._is_dir(rel):
            raise InvalidParameterValue(f"Artifact path refers to a directory, not a file: '{rel}'")
        raise ResourceDoesNotExist(f"No such artifact: '{rel}'")

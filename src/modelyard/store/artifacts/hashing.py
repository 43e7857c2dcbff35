"""Content hashes of artifacts: SHA-256 computed while an upload streams through.

An upload's chunks pass through a `HashingStream` on their way into a store,
so the digest costs one `update` per chunk and never a second read of the
file. The result, a `Digest` (size and SHA-256), is recorded by the artifact
service in the database; the S3 store also writes it into the object's user
metadata (`x-amz-meta-sha256`), so the hash of an object is known from a HEAD
even by tools that never see our database.

The header forms live here too, because the server writes them and the light
client reads them: `ETag: "<hex>"` and RFC 9530's `Repr-Digest: sha-256=:<b64>:`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from modelyard.store.artifacts.base import Chunks

log = logging.getLogger("modelyard.store.artifacts.hashing")

# Key of the S3 user metadata entry (sent as the x-amz-meta-sha256 header).
S3_METADATA_KEY = "sha256"

# S3 copies objects up to 5 GiB in one CopyObject; bigger ones keep their hash
# in the database only (a multipart copy would rewrite the whole object).
S3_MAX_COPY = 5 * 1024**3

_HEX = re.compile(r"^[0-9a-f]{64}$")
_REPR_DIGEST = re.compile(r"(?:^|,)\s*sha-256\s*=\s*:([A-Za-z0-9+/=]+):")


@dataclass(frozen=True, slots=True)
class Digest:
    """What a stored file's content is: its size in bytes and lowercase hex SHA-256."""

    size: int
    sha256: str


def is_sha256(value: str | None) -> bool:
    return value is not None and bool(_HEX.match(value))


def etag(sha256: str) -> str:
    """A strong validator: the content hash itself, quoted as RFC 9110 wants."""
    return f'"{sha256}"'


def repr_digest(sha256: str) -> str:
    """RFC 9530 `Repr-Digest` value: the algorithm and base64 of the raw digest."""
    raw = binascii.unhexlify(sha256)
    return f"sha-256=:{base64.b64encode(raw).decode('ascii')}:"


def parse_repr_digest(header: str | None) -> str | None:
    """The hex SHA-256 in a `Repr-Digest` header; None when absent or another algorithm."""
    if not header:
        return None
    match = _REPR_DIGEST.search(header)
    if match is None:
        return None
    try:
        raw = base64.b64decode(match.group(1), validate=True)
    except binascii.Error:
        return None
    return raw.hex() if len(raw) == 32 else None


class HashingStream:
    """Chunks passing through, hashed on the way; sync or async like its source.

    The store iterates it exactly as it would the original chunks; after the
    store returns, `digest()` is the hash of every byte it consumed.
    """

    def __init__(self, chunks: Chunks) -> None:
        self._chunks = chunks
        self._hash = hashlib.sha256()
        self._size = 0

    def _seen(self, chunk: bytes | bytearray | memoryview) -> None:
        self._hash.update(chunk)
        self._size += len(chunk)

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._chunks, Iterable)
        for chunk in self._chunks:
            self._seen(chunk)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._chunks, AsyncIterable)
        async for chunk in self._chunks:
            self._seen(chunk)
            yield chunk

    @property
    def is_async(self) -> bool:
        return isinstance(self._chunks, AsyncIterable)

    def view(self) -> Chunks:
        """The stream in the flavour of its source, for stores that branch on it."""
        if self.is_async:
            return self.__aiter__()
        return iter(self)

    def digest(self) -> Digest:
        return Digest(self._size, self._hash.hexdigest())


def hash_file(file: BinaryIO, chunk_size: int = 1024 * 1024) -> Digest:
    """Hash a readable file to its end: for files no upload went through (verify, manifests)."""
    hasher = hashlib.sha256()
    size = 0
    while chunk := file.read(chunk_size):
        hasher.update(chunk)
        size += len(chunk)
    return Digest(size, hasher.hexdigest())


# -- S3 object metadata ---------------------------------------------------------------
def s3_metadata(digest: Digest) -> dict[str, str]:
    return {S3_METADATA_KEY: digest.sha256}


def s3_digest_from(answer: dict[str, Any]) -> str | None:
    """The SHA-256 an S3 GET/HEAD answer carries in its user metadata, if valid."""
    metadata = answer.get("Metadata") or {}
    value = metadata.get(S3_METADATA_KEY)
    return value if is_sha256(value) else None


def s3_annotate(client: Any, bucket: str, key: str, digest: Digest) -> None:
    """Add the hash to an object already written (a multipart upload set no metadata).

    CopyObject onto itself with REPLACE is S3's only way to change metadata; it
    is server-side, atomic for readers, and skipped for objects above the
    single-copy limit. A failure is logged, not raised: the database still has
    the hash and the object itself is intact.
    """
    if digest.size > S3_MAX_COPY:
        return
    try:
        client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            Metadata=s3_metadata(digest),
            MetadataDirective="REPLACE",
        )
    except Exception:
        log.warning("could not write the sha256 metadata of s3://%s/%s", bucket, key, exc_info=True)

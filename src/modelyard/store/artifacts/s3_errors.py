"""S3 errors translated into modelyard's, once, at the S3 store boundary.

botocore raises `ClientError` with the S3 error code the server sent (or, for
HEAD answers, which carry no body, the bare HTTP status), and `BotoCoreError`
when the server cannot be reached. `raise_translated` turns each into the
error class that carries MLflow's code and our HTTP status, chaining the
original, so no handler ever sees a botocore exception.
"""

from __future__ import annotations

from typing import NoReturn

from modelyard.errors import (
    InternalError,
    InvalidParameterValue,
    PermissionDenied,
    ResourceDoesNotExist,
    StorageFull,
    TemporarilyUnavailable,
    Unauthenticated,
)

# MLflow's mapping of S3 error codes to its own (s3_artifact_repo.BOTO_TO_MLFLOW_ERROR).
# HEAD answers carry no body, so botocore reports the bare status as the code.
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_DENIED = frozenset({"AccessDenied", "403", "Forbidden"})
_UNAUTHENTICATED = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch"})

# The object store is out of space or over a quota: the S3 equivalents of the
# local disk's ENOSPC / EDQUOT, answered 507 like them (not retried; waiting
# does not free space). Ceph radosgw answers QuotaExceeded (403) for user and
# bucket quotas; MinIO XMinioStorageFull (507) and XMinioAdminBucketQuotaExceeded;
# WebDAV-style gateways and proxies the bare status 507 (InsufficientStorage).
_FULL = frozenset(
    {
        "QuotaExceeded",
        "XMinioStorageFull",
        "XMinioAdminBucketQuotaExceeded",
        "InsufficientStorage",
        "StorageFull",
        "507",
    }
)
# An object larger than the store accepts: the S3 equivalent of EFBIG.
_TOO_LARGE = frozenset({"EntityTooLarge"})


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in _NOT_FOUND


def _http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def _storage_full(code: str, message: str, rel: str) -> StorageFull:
    if code in _TOO_LARGE:
        return StorageFull(
            f"Cannot store artifact {rel!r}: the object store refuses objects this large "
            f"({code}: {message}). Nothing was stored; raise the store's object size limit "
            "or store the artifact in smaller files."
        )
    return StorageFull(
        f"Cannot store artifact {rel!r}: the object store is out of space or over its "
        f"quota ({code}: {message}). Nothing was stored; free space or raise the "
        "bucket's or user's quota, then upload it again."
    )


def raise_translated(exc: Exception, *, bucket: str, key: str, rel: str) -> NoReturn:
    """Raise the modelyard error for a botocore error about `rel` (object `key`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"s3://{bucket}/{key}"
    if isinstance(exc, ClientError):
        code = error_code(exc) or "?"
        message = exc.response.get("Error", {}).get("Message") or code
        if code == "NoSuchBucket":
            raise InternalError(
                f"The artifact bucket {bucket!r} does not exist: {message}"
            ) from exc
        if code in _FULL or code in _TOO_LARGE or _http_status(exc) == 507:
            raise _storage_full(code, message, rel) from exc
        if code in _NOT_FOUND:
            raise ResourceDoesNotExist(f"No such artifact: '{rel}'") from exc
        if code in _DENIED:
            raise PermissionDenied(f"Access denied to {where}: {message}") from exc
        if code in _UNAUTHENTICATED:
            raise Unauthenticated(f"The object store refused our credentials: {message}") from exc
        if code in ("NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
            raise InvalidParameterValue(f"Multipart upload to '{rel}' failed: {message}") from exc
        if code in ("SlowDown", "ServiceUnavailable", "503", "RequestTimeout"):
            raise TemporarilyUnavailable(f"The object store is busy: {message}") from exc
        raise InternalError(f"S3 error {code} at {where}: {message}") from exc
    if isinstance(exc, BotoCoreError):
        raise TemporarilyUnavailable(f"The object store cannot be reached: {exc}") from exc
    raise exc

"""S3 error answers become modelyard errors (store/artifacts/s3_errors.py): out of space
and over-quota answers from each object store we know are 507 StorageFull with a
message that says what to fix; everything else keeps its meaning.

The answers are botocore's own parse of each server's reply, as captured from the
servers (radosgw's QuotaExceeded in tests/faults/test_s3_full.py; SeaweedFS's
generic 500 when a bucket is over quota or out of volumes); end-to-end behaviour
against a real store is tested there and in tests/store/.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from modelyard.errors import (
    InternalError,
    ModelyardError,
    ResourceDoesNotExist,
    StorageFull,
    TemporarilyUnavailable,
)
from modelyard.store.artifacts.s3_errors import raise_translated


def _answer(code: str, status: int, message: str | None = None) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message, "BucketName": "b"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutObject")


def _translate(exc: Exception) -> ModelyardError:
    with pytest.raises(ModelyardError) as raised:
        raise_translated(
            exc, bucket="b", key="p/1/run/artifacts/m.bin", rel="1/run/artifacts/m.bin"
        )
    assert raised.value.__cause__ is exc
    return raised.value


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("QuotaExceeded", 403),  # Ceph radosgw, user or bucket quota
        ("XMinioStorageFull", 507),  # MinIO, drives below their free-space threshold
        ("XMinioAdminBucketQuotaExceeded", 400),  # MinIO bucket quota
        ("InsufficientStorage", 507),
        ("507", 507),  # a HEAD answer: no body, the bare status
        ("SomethingNew", 507),  # an unknown code with the status that means it
    ],
)
def test_full_or_over_quota_is_storage_full(code: str, status: int) -> None:
    error = _translate(_answer(code, status))
    assert isinstance(error, StorageFull)
    assert error.http_status == 507 and error.code == "RESOURCE_EXHAUSTED"
    assert error.message.startswith(
        "Cannot store artifact '1/run/artifacts/m.bin': the object store is out of space "
        f"or over its quota ({code}: {code})."
    )
    assert "Nothing was stored; free space or raise the bucket's or user's quota" in error.message


def test_too_large_object_is_storage_full_with_its_own_fix() -> None:
    error = _translate(_answer("EntityTooLarge", 400, "Your proposed upload exceeds the maximum"))
    assert isinstance(error, StorageFull)
    assert "refuses objects this large (EntityTooLarge: Your proposed upload" in error.message
    assert "store the artifact in smaller files" in error.message


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        # What SeaweedFS answers over quota or out of volumes: indistinguishable
        # from any other server fault, so it stays one.
        (_answer("InternalError", 500, "We encountered an internal error"), InternalError),
        (_answer("NoSuchKey", 404), ResourceDoesNotExist),
        (_answer("SlowDown", 503), TemporarilyUnavailable),
        (EndpointConnectionError(endpoint_url="http://s3"), TemporarilyUnavailable),
    ],
)
def test_other_answers_keep_their_meaning(exc: Exception, kind: type[ModelyardError]) -> None:
    error = _translate(exc)
    assert type(error) is kind
    assert not isinstance(error, StorageFull)

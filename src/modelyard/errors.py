"""The one error hierarchy, shared by server and client.

Every failure that reaches a user is a `ModelyardError` carrying one of MLflow's
error codes. The HTTP layer turns it into MLflow's JSON error body with the
status from `HTTP_STATUS`, and the client raises the same classes from the JSON
it receives, so code written against one side reads naturally on the other.
"""

from __future__ import annotations

from typing import ClassVar

# MLflow's error-code -> HTTP status table (mlflow/exceptions.py), kept in one
# place because clients branch on both the code and the status.
HTTP_STATUS: dict[str, int] = {
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "CANCELLED": 499,
    "RESOURCE_EXHAUSTED": 429,
    "ABORTED": 409,
    "RESOURCE_CONFLICT": 409,
    "ALREADY_EXISTS": 409,
    "NOT_FOUND": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "PERMISSION_DENIED": 403,
    "CUSTOMER_UNAUTHORIZED": 401,
    "UNAUTHENTICATED": 401,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_PARAMETER_VALUE": 400,
}


class ModelyardError(Exception):
    """Base of every error modelyard reports; `code` is an MLflow error code."""

    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def to_dict(self) -> dict[str, str]:
        return {"error_code": self.code, "message": self.message}


class InvalidParameterValue(ModelyardError):
    code = "INVALID_PARAMETER_VALUE"


class BadRequest(ModelyardError):
    code = "BAD_REQUEST"


class ResourceDoesNotExist(ModelyardError):
    code = "RESOURCE_DOES_NOT_EXIST"


class ResourceAlreadyExists(ModelyardError):
    code = "RESOURCE_ALREADY_EXISTS"


class EndpointNotFound(ModelyardError):
    code = "ENDPOINT_NOT_FOUND"


class InvalidState(ModelyardError):
    code = "INVALID_STATE"


class ResourceConflict(ModelyardError):
    """The request conflicts with the resource's state (409; e.g. a frozen artifact)."""

    code = "RESOURCE_CONFLICT"


class NotImplementedByServer(ModelyardError):
    code = "NOT_IMPLEMENTED"


class PermissionDenied(ModelyardError):
    code = "PERMISSION_DENIED"


class Unauthenticated(ModelyardError):
    code = "UNAUTHENTICATED"


class TemporarilyUnavailable(ModelyardError):
    code = "TEMPORARILY_UNAVAILABLE"


class InternalError(ModelyardError):
    code = "INTERNAL_ERROR"


class RequestTooLarge(InvalidParameterValue):
    """A request body over the server's limit: HTTP 413, with MLflow's code for bad input
    (MLflow has no code of its own for it), so clients do not retry it."""

    @property
    def http_status(self) -> int:
        return 413


class StorageFull(ModelyardError):
    """The artifact store's disk (or quota, or file-size limit) is full: HTTP 507.

    MLflow's RESOURCE_EXHAUSTED code, but not its 429: a full disk does not
    empty itself by waiting, so clients should not retry it.
    """

    code = "RESOURCE_EXHAUSTED"

    @property
    def http_status(self) -> int:
        return 507


class RequestTimeout(BadRequest):
    """The client stopped sending its request body: HTTP 408."""

    @property
    def http_status(self) -> int:
        return 408


_BY_CODE: dict[str, type[ModelyardError]] = {
    cls.code: cls
    for cls in (
        InvalidParameterValue,
        BadRequest,
        ResourceDoesNotExist,
        ResourceAlreadyExists,
        EndpointNotFound,
        InvalidState,
        NotImplementedByServer,
        PermissionDenied,
        Unauthenticated,
        TemporarilyUnavailable,
        InternalError,
        StorageFull,
    )
}


def error_from_dict(body: dict[str, object], status: int | None = None) -> ModelyardError:
    """Rebuild the error a server sent, for the client side."""
    code = str(body.get("error_code") or "INTERNAL_ERROR")
    message = str(body.get("message") or f"HTTP {status}")
    cls = _BY_CODE.get(code)
    if cls is None:
        err = ModelyardError(message)
        err.code = code  # type: ignore[misc]
        return err
    return cls(message)

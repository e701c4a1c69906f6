"""The service's errors, as the model declares them.

Each exception names an error shape of the model; the HTTP status and the body's
members come from that shape, so botocore raises the matching modeled exception
(``client.exceptions.ValidationException`` and so on).
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel

from managed_things_model.service_model import service_model


class ServiceError(Exception):
    """An error answered as the model's error shape ``code`` with ``message``."""

    code = "InternalServerException"

    def __init__(self, message: str, **members: Any) -> None:
        super().__init__(message)
        self.message = message
        self.members = members  # further members of the error shape, e.g. ResourceId

    @property
    def status(self) -> int:
        return error_status(self.code)

    def body(self) -> dict[str, Any]:
        """The error's JSON body: the error shape's members, ``Message`` first."""
        shape = service_model().shape_for(self.code)
        values = {"Message": self.message, **self.members}
        return {name: values[name] for name in shape.members if values.get(name) is not None}


class ValidationException(ServiceError):
    code = "ValidationException"


class AccessDeniedException(ServiceError):
    """The caller's policies do not allow the call (HTTP 403, as the model's shape says)."""

    code = "AccessDeniedException"


class InvalidRequestException(ServiceError):
    code = "InvalidRequestException"


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"


class ConflictException(ServiceError):
    code = "ConflictException"


class ThrottlingException(ServiceError):
    code = "ThrottlingException"


class InternalServerException(ServiceError):
    code = "InternalServerException"


class ServiceUnavailableException(ServiceError):
    code = "ServiceUnavailableException"


class UnknownOperationException(ServiceError):
    """No operation of the model has this method and path (not a modeled shape: answered as 404)."""

    code = "UnknownOperationException"

    @property
    def status(self) -> int:
        return 404

    def body(self) -> dict[str, Any]:
        return {"Message": self.message}


class NotImplementedByEmulator(UnknownOperationException):
    """An operation of the model the emulator does not serve."""

    code = "NotImplementedException"

    @property
    def status(self) -> int:
        return 501


def error_status(code: str) -> int:
    """The HTTP status the model gives the error shape ``code``."""
    return int(service_model().shape_for(code).metadata["error"]["httpStatusCode"])


# Rejections of a malformed request, in order of preference: the first the operation models is used.
_REQUEST_ERRORS: tuple[type[ServiceError], ...] = (ValidationException, InvalidRequestException)


def request_error(operation: OperationModel, message: str) -> ServiceError:
    """The error an operation answers an invalid request with, as its model lists it.

    Most operations list ``ValidationException``; the tagging operations list only
    ``InvalidRequestException``, so that is what they answer.
    """
    modeled = {shape.name for shape in operation.error_shapes}
    for error in _REQUEST_ERRORS:
        if error.code in modeled:
            return error(message)
    return ValidationException(message)

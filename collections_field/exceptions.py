"""Domain errors of the collections work; the API maps them to HTTP in one place."""

from portfolio.exceptions import DomainError, InvalidInput, NotFound, PermissionDenied

__all__ = ["CycleError", "DomainError", "InvalidInput", "NotFound", "PermissionDenied"]


class CycleError(DomainError):
    code = "cycle_error"

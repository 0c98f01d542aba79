"""Domain errors of the collections work; the API maps them to HTTP in one place."""

from portfolio.exceptions import DomainError


class CycleError(DomainError):
    code = "cycle_error"


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    """Bad input that names its field."""

    code = "invalid"

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)

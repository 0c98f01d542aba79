"""Domain errors of the portfolio; views and the API map `DomainError` to HTTP."""

from dataclasses import dataclass

from django.utils.translation import gettext as _


class DomainError(Exception):
    """A business rule refused the operation; the message is for people."""

    code = "invalid"


@dataclass(frozen=True)
class SnapshotRowError:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = _("line %(n)s") % {"n": self.line} if self.line else _("file")
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.message}"


class NotFound(DomainError):
    code = "not_found"


class PermissionDenied(DomainError):
    code = "permission_denied"


class InvalidInput(DomainError):
    """Bad input that names its field."""

    code = "invalid"

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)


class SnapshotError(DomainError):
    """The snapshot was refused whole; `errors` name each line and field."""

    code = "invalid_snapshot"

    def __init__(self, errors: list[SnapshotRowError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:5]))


class OrganisationError(DomainError):
    code = "invalid_organisation"

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors[:5]))

from tests.support import ORGANISATION, row, write_snapshot  # noqa: F401

"""Domain errors of the strategy app, one base so callers (commands, API) map them once."""


class StrategyError(Exception):
    """Base of every business error raised by the strategy app."""


class StrategyValidationError(StrategyError):
    """A strategy document was refused; `errors` lists every problem found, not just the first.

    The whole list is collected before raising so the risk manager fixes a file in one pass.
    """

    def __init__(self, errors: list[str], warnings: list[str] | None = None):
        self.errors = list(errors)
        self.warnings = list(warnings or [])  # found on the way, for an editor to show too
        super().__init__("\n".join(self.errors))


class NoActiveStrategy(StrategyError):
    """Nothing has been published yet."""

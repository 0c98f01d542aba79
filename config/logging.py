"""Personal data never reaches a log line (Ley 29733 de Protección de Datos Personales)."""

import logging
import re

# E-mail addresses; runs of 7 to 15 digits, maybe split by spaces or dashes and maybe
# after a + (phones, DNI, RUC, carnet de extranjería); ISO dates and times are kept.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_NUMBER = re.compile(r"(?<![\w.:/-])(?!\d{4}-\d{2}-\d{2}\b)\+?\d(?:[ -]?\d){6,14}(?![\w:/-])")


def redact(text: str) -> str:
    return _NUMBER.sub("[number]", _EMAIL.sub("[email]", text))


class PersonalDataFilter(logging.Filter):
    """Rewrites the formatted message (and an exception's text) before any handler
    sees it, whoever logged it: our code, Django, Celery or a library."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True

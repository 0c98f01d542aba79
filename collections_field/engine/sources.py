"""Items the events step takes from other apps, declared in settings.

`collections_field` imports none of the apps above it (ARCHITECTURE.md): an app
that wants the engine to raise one of its known events on a case (the money rules:
an approved refinancing raises 80) names a class in `SEMAFORO["EVENT_SOURCES"]`.
The events step asks each source for SQL, so the whole day is still a fixed
number of set-based statements:

- `items(...)`: a SELECT of `client_id, at, detail` — the day's items; each
  becomes an event `code` on the client's open case, ordered with the rest by
  time and the code's rank.
- `announced(...)`: a SELECT of `client_id` whose `code` the source raises (or
  raised the night before); the engine then does not raise the same code again
  from the snapshot for them (a refinancing booked by core banking changes the
  credit's installments: one 80, not two). None: nothing to hold back.
- `take_in(cursor, ...)`: mark what was taken in, so a later cycle does not see it
  again (as results and payments get `applied_on`).

`scope` is the chunk of clients the step works on (`events.Scope`).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from strategy.schema import KNOWN_EVENTS


class EventSource(Protocol):
    code: str

    def items(self, *, business_date: date, end: datetime, scope: Any) -> tuple[str, list]: ...

    def announced(
        self, *, business_date: date, end: datetime, previous_snapshot: date | None
    ) -> tuple[str, list] | None: ...

    def take_in(self, cursor, *, business_date: date, end: datetime, scope: Any) -> int: ...


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> tuple[EventSource, ...]:
    sources = tuple(import_string(path)() for path in paths)
    for source in sources:
        if source.code not in KNOWN_EVENTS:
            raise ValueError(f"{type(source).__name__} raises {source.code!r}, not a known event")
    return sources


def event_sources() -> tuple[EventSource, ...]:
    return _load(tuple(settings.SEMAFORO.get("EVENT_SOURCES", ())))

"""Rates as people read them: 0.4512 -> 45.12 %."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()


@register.filter
def pct(fraction: Decimal | str | None) -> str:
    if fraction in (None, ""):
        return ""
    value = (Decimal(str(fraction)) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value:.2f} %"


@register.filter
def get(mapping: dict, key: str):
    return mapping.get(key) if mapping else None

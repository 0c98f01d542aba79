"""Fractions shown as percentages (0.3 → 30 %), in the reader's number format."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def fraction_pct(value) -> str:
    if value is None:
        return "—"
    percent = (Decimal(str(value)) * 100).normalize()
    places = max(0, -percent.as_tuple().exponent)
    return f"{number_format(percent, min(places, 2))} %"

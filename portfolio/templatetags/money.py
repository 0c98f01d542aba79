"""Money as Peruvians read it: S/ 1,234.56 (US$ for dollars)."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()

SYMBOLS = {"PEN": "S/", "USD": "US$"}


def format_money(amount: Decimal | int | float | None, currency: str = "PEN") -> str:
    if amount is None:
        return ""
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    return f"{sign}{SYMBOLS.get(currency, currency)} {abs(value):,.2f}"


@register.filter
def soles(amount: Decimal | None) -> str:
    return format_money(amount, "PEN")


@register.filter
def money(amount: Decimal | None, currency: str = "PEN") -> str:
    return format_money(amount, currency)

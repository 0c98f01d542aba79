"""The AS table's codes in plain words for the officer (thesis 5.2.9: where, to
whom, with what). Unknown codes (a strategy's own instrument) show as written."""

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

WORDS = {
    "where": {"home": _("at home"), "business": _("at the business"), "work": _("at work")},
    "whom": {"client": _("the client"), "guarantor": _("the guarantor")},
    "instrument": {
        "payment_promise": _("get a payment promise"),
        "letter": _("deliver the letter"),
        "exoneration_offer": _("offer a waiver"),
        "goods_delivery": _("ask for goods in payment"),
        "restructuring_offer_a": _("offer a restructuring (A)"),
        "restructuring_offer_b": _("offer a restructuring (B)"),
    },
}


@register.filter
def plain(code: str, kind: str) -> str:
    return WORDS.get(kind, {}).get(code, code.replace("_", " ") if code else "")

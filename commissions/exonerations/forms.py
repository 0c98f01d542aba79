from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

PERCENT = {"min_value": 0, "max_value": 100, "decimal_places": 2, "max_digits": 5}


class ExonerationForm(forms.Form):
    """The request, with percentages as people write them (30 is 30 %)."""

    client_code = forms.CharField(label=_("Client"), max_length=40)
    credit_code = forms.CharField(label=_("Credit"), max_length=40)
    late_interest_pct = forms.DecimalField(label=_("Late interest waived (%)"), initial=0,
                                           **PERCENT)  # fmt: skip
    collection_fees_pct = forms.DecimalField(label=_("Collection fees waived (%)"), initial=0,
                                             **PERCENT)  # fmt: skip
    commissions_pct = forms.DecimalField(label=_("Commissions waived (%)"), initial=0, **PERCENT)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}),
                             max_length=2000)  # fmt: skip

    def fractions(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("late_interest_pct", "collection_fees_pct", "commissions_pct"):
            data[name] = (data[name] or Decimal("0")) / 100
        return data


class DecisionForm(forms.Form):
    exoneration = forms.IntegerField(widget=forms.HiddenInput)
    op = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)

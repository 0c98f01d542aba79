from django import forms
from django.utils.translation import gettext_lazy as _

NUMBER = {"inputmode": "numeric", "pattern": "[0-9]*"}
AMOUNT = {"inputmode": "decimal"}


class SimulationForm(forms.Form):
    """The simulator's inputs on the client page (GET: a simulation writes nothing)."""

    credit_code = forms.ChoiceField(label=_("Credit"))
    product = forms.ChoiceField(label=_("Product"))
    term_months = forms.IntegerField(
        label=_("Term (months)"), min_value=1, max_value=600, widget=forms.NumberInput(NUMBER)
    )
    down_payment = forms.DecimalField(
        label=_("Down payment"), min_value=0, max_digits=14, decimal_places=2,
        widget=forms.NumberInput({**AMOUNT, "step": "0.01"}),
    )  # fmt: skip
    first_due_date = forms.DateField(
        label=_("First due date"), widget=forms.DateInput({"type": "date"})
    )

    def __init__(self, *args, credits: list[tuple[str, str]], products, **kwargs):
        """`products`: (code, label, credit codes it qualifies for)."""
        super().__init__(*args, **kwargs)
        self.fields["credit_code"].choices = credits
        self.fields["product"].choices = [(code, label) for code, label, _c in products]
        # The static script offers only the products of the chosen credit.
        self.fields["product"].widget.attrs["data-credits"] = "|".join(
            f"{code}:{' '.join(credit_codes)}" for code, _l, credit_codes in products
        )


class RequestForm(SimulationForm):
    """The same inputs (hidden, as simulated) and why the client needs it."""

    reason = forms.CharField(
        label=_("Why the client needs it"), max_length=2000, widget=forms.Textarea({"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("credit_code", "product", "term_months", "down_payment", "first_due_date"):
            self.fields[name].widget = forms.HiddenInput()


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.HiddenInput
    )
    note = forms.CharField(
        label=_("Note (required to reject)"), required=False, max_length=2000,
        widget=forms.Textarea({"rows": 2}),
    )  # fmt: skip

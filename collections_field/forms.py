from django import forms
from django.utils.translation import gettext_lazy as _


class OverrideForm(forms.Form):
    to_code = forms.ChoiceField(label=_("Move to"))
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, codes: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_code"].choices = codes


class ResultForm(forms.Form):
    """A visit, call or inbound contact from the officer's phone. The uuid is made
    when the page is drawn, so a form sent twice on a bad connection counts once."""

    uuid = forms.UUIDField(widget=forms.HiddenInput)
    result_code = forms.ChoiceField(label=_("Result"))
    channel = forms.ChoiceField(
        label=_("How"),
        choices=[("visit", _("Visit")), ("call", _("Call")), ("inbound", _("Inbound contact"))],
        initial="visit",
    )
    promise_date = forms.DateField(
        label=_("Promised payment date"), required=False, widget=forms.DateInput({"type": "date"})
    )
    promise_amount = forms.DecimalField(
        label=_("Promised amount (S/)"), required=False, min_value=0, max_digits=14,
        decimal_places=2,
    )  # fmt: skip
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea({"rows": 2})
    )
    new_phone = forms.RegexField(
        label=_("New phone"), regex=r"^\+?[0-9 ]{6,20}$", required=False, max_length=30,
        widget=forms.TextInput({"inputmode": "tel", "autocomplete": "off"}),
    )  # fmt: skip
    new_address = forms.CharField(label=_("New address"), required=False, max_length=300)
    address_kind = forms.ChoiceField(
        label=_("Address"),
        required=False,
        choices=[("", _("collection address")), ("home", _("Home")),
                 ("business", _("Business")), ("work", _("Work"))],
    )  # fmt: skip
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lon = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)

    def __init__(self, *args, result_codes, **kwargs):
        super().__init__(*args, **kwargs)
        self.promise_codes = {r.code for r in result_codes if r.promise}
        self.fields["result_code"].choices = [
            (r.code, f"{r.code} · {r.name}") for r in result_codes
        ]
        self.fields["result_code"].widget.attrs["data-promise-codes"] = " ".join(
            sorted(self.promise_codes)
        )


class EscalationForm(forms.Form):
    """One operation of a superior on an escalated action."""

    OPS = [("comment", _("Comment")), ("reassign", _("Reassign")), ("handle", _("Handled"))]

    op = forms.ChoiceField(choices=OPS, widget=forms.HiddenInput)
    action = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    text = forms.CharField(label=_("Comment"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    officer_code = forms.CharField(label=_("New officer"), required=False, max_length=20)

    def clean(self):
        data = super().clean()
        if data.get("op") == "comment" and not (data.get("text") or "").strip():
            self.add_error("text", _("A comment needs its text."))
        if data.get("op") == "reassign" and not data.get("officer_code"):
            self.add_error("officer_code", _("Choose the officer."))
        return data

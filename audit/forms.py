from django import forms
from django.utils.translation import gettext_lazy as _

from audit.selectors import audited_models

DATE = forms.DateInput({"type": "date"})


class AuditFilterForm(forms.Form):
    model = forms.ChoiceField(label=_("What"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=DATE)
    until = forms.DateField(label=_("To"), required=False, widget=DATE)
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", _("Everything")), *audited_models()]

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "model_label": data.get("model") or None,
            "since": data.get("since"),
            "until": data.get("until"),
        }

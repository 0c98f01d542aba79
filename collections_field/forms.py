from django import forms
from django.utils.translation import gettext_lazy as _


class OverrideForm(forms.Form):
    to_code = forms.ChoiceField(label=_("Move to"))
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, codes: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_code"].choices = codes

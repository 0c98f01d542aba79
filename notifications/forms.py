from django import forms
from django.utils.translation import gettext_lazy as _

from notifications.models import MessageTemplate


class TemplateForm(forms.Form):
    """The gerente's template editor. The checks are `templating.template_problems`'s,
    run by the service; this only parses."""

    name = forms.CharField(label=_("Name"), max_length=60, help_text=_(
        "As the strategy names it (an action plan's template, an AS row's letter template)."
    ))  # fmt: skip
    channel = forms.ChoiceField(label=_("Channel"), choices=MessageTemplate.Channel.choices)
    recipient = forms.ChoiceField(
        label=_("Written for"),
        choices=MessageTemplate.Recipient.choices,
        initial=MessageTemplate.Recipient.DEBTOR,
    )
    subject = forms.CharField(label=_("Subject (e-mail)"), max_length=200, required=False)
    body = forms.CharField(
        label=_("Text (Spanish)"), widget=forms.Textarea(attrs={"rows": 10}), max_length=8000
    )
    content_sid = forms.CharField(
        label=_("Approved content SID (WhatsApp)"), max_length=40, required=False,
        help_text=_("The provider's approved template (HX…), used outside the 24-hour window."),
    )  # fmt: skip
    variables = forms.CharField(
        label=_("Its variables (WhatsApp)"), max_length=300, required=False,
        help_text=_("The placeholder of {{1}}, {{2}}, … in order, separated by commas."),
    )  # fmt: skip
    reason = forms.CharField(label=_("Reason for the change"), max_length=100, required=False)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["name"].disabled = True

    def clean_variables(self) -> list[str]:
        raw = self.cleaned_data.get("variables") or ""
        return [v.strip() for v in raw.split(",") if v.strip()]


class DeliveredForm(forms.Form):
    action = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

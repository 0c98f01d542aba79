"""Pages of notifications: the gerente's template editor and the day's letters (the
batch to print, and each letter marked delivered). Thin: parse, call, render."""

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from notifications.forms import DeliveredForm, TemplateForm
from notifications.letters import letter_mark_delivered
from notifications.models import Letter
from notifications.selectors import letters_for, templates_for
from notifications.templating import PLACEHOLDERS, TemplateRefused, template_save
from portfolio.exceptions import DomainError, NotFound
from portfolio.models import Role
from portfolio.selectors import agencies_visible_to, role_of


def _templates_or_404(user):
    try:
        return templates_for(user=user)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@login_required
def templates_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notifications/templates.html",
        {"templates": _templates_or_404(request.user), "placeholders": PLACEHOLDERS},
    )


@login_required
def template_edit_page(request: HttpRequest, name: str | None = None) -> HttpResponse:
    """New (no name) or existing template; a refusal is shown under each field."""
    templates = _templates_or_404(request.user)
    template = None
    if name is not None:
        template = templates.filter(name=name).first()
        if template is None:
            raise Http404(_("no template with that name"))
    initial = {}
    if template is not None:
        initial = {
            "name": template.name, "channel": template.channel,
            "recipient": template.recipient, "subject": template.subject,
            "body": template.body, "content_sid": template.content_sid,
            "variables": ", ".join(template.variables),
        }  # fmt: skip
    form = TemplateForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        editing=template is not None,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = template_save(
                user=request.user,
                template_id=template.pk if template else None,
                **{k: data[k] for k in ("name", "channel", "recipient", "subject", "body")},
                content_sid=data["content_sid"],
                variables=data["variables"],
                reason=data["reason"],
            )
        except TemplateRefused as exc:
            for problem in exc.problems:
                form.add_error(problem.field if problem.field in form.fields else None,
                               problem.message)  # fmt: skip
        else:
            messages.success(request, _("Template %(name)s saved.") % {"name": saved.name})
            return redirect("message-templates")
    history = template.history.select_related("history_user")[:20] if template else []
    return render(
        request,
        "notifications/template_edit.html",
        {"form": form, "template": template, "placeholders": PLACEHOLDERS, "history": history},
    )


def _day(request: HttpRequest) -> date:
    from collections_field.selectors import current_business_date

    try:
        if request.GET.get("date"):
            return date.fromisoformat(request.GET["date"])
    except ValueError:
        pass
    return current_business_date() or timezone.localdate()


@login_required
def letters_page(request: HttpRequest) -> HttpResponse:
    """The day's letters of an agency: the batch to print, and each letter the reader
    may see with its state; whoever hands them over marks them delivered."""
    role = role_of(request.user)
    agencies = list(agencies_visible_to(request.user).order_by("code"))
    member = getattr(request.user, "staff_member", None)
    own = getattr(getattr(request.user, "officer", None), "agency", None)
    code = (
        request.GET.get("agency")
        or (own.code if own else "")
        or (member.agency.code if member and member.agency_id else "")
        or (agencies[0].code if agencies else "")
    )
    day = _day(request)
    agency = batch = None
    rows: list[Letter] = []
    if code:
        try:
            agency, batch, rows = letters_for(
                user=request.user, agency_code=code, business_date=day
            )
        except NotFound as exc:
            raise Http404(str(exc)) from exc
    printable = [r for r in rows if r.status != Letter.Status.BLOCKED]
    return render(
        request,
        "notifications/letters.html",
        {
            "agency": agency,
            "agencies": agencies if len(agencies) > 1 else [],
            "day": day,
            "batch": batch,
            "rows": rows,
            "printable": printable,
            "can_deliver": role in (Role.ASESOR, Role.AGENCIA_EXTERNA, Role.JEFE_AGENCIA,
                                    Role.GERENTE),
            "pdf_url": (
                f"{reverse('api-letters')}?agency={agency.code}&date={day.isoformat()}"
                if agency and printable and batch and batch.file else ""
            ),
        },
    )  # fmt: skip


@login_required
@require_POST
def letter_delivered(request: HttpRequest) -> HttpResponse:
    """Mark the letter of an action delivered (from the client page or the list)."""
    form = DeliveredForm(request.POST)
    back = request.POST.get("next") or reverse("letters")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("letters")
    if not form.is_valid():
        messages.error(request, _("Choose the letter to mark."))
        return redirect(back)
    try:
        letter_mark_delivered(
            user=request.user, action_id=form.cleaned_data["action"], at=timezone.now()
        )
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Letter marked delivered; its action is done."))
    return redirect(back)

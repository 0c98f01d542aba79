import csv

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.forms import AuditFilterForm
from audit.selectors import AUDIT_ROLES, audit_entries, iter_audit_entries
from portfolio.selectors import role_of

PAGE_SIZE = 50


def _form(request: HttpRequest) -> AuditFilterForm:
    if role_of(request.user) not in AUDIT_ROLES:
        raise HttpForbidden(_("only the gerente may read the audit trail"))
    return AuditFilterForm(request.GET or None)


@login_required
def audit_page(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    filters = form.filters() if form.is_valid() else {}
    page = (form.cleaned_data.get("page") if form.is_valid() else None) or 1
    entries = audit_entries(
        user=request.user, **filters, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/trail.html",
        {
            "form": form,
            "entries": entries[:PAGE_SIZE],
            "page": page,
            "has_next": len(entries) > PAGE_SIZE,
            "query": query.urlencode(),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered trail as CSV, one line per changed field."""
    form = _form(request)
    filters = form.filters() if form.is_valid() else {}
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(
            ["at", "who", "what", "object_id", "object", "action", "reason", "field", "before",
             "after"]
        )  # fmt: skip
        for entry in iter_audit_entries(user=request.user, **filters):
            at = timezone.localtime(entry.at).isoformat()
            head = [at, entry.who, entry.model_label, entry.object_id, entry.object_repr,
                    entry.action, entry.reason]  # fmt: skip
            for change in entry.changes or [None]:
                tail = [change.field, change.before, change.after] if change else ["", "", ""]
                yield writer.writerow(head + tail)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response

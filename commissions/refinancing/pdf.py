"""The schedule as a PDF the client signs (WeasyPrint), from a simulation or a request."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from commissions.refinancing.selectors import Simulation

STYLESHEET = Path(settings.BASE_DIR) / "static" / "css" / "refinancing-print.css"


def schedule_pdf(
    *,
    simulation: Simulation,
    client_name: str,
    document_id: str,
    request_id: int | None = None,
    status: str = "",
) -> bytes:
    """Slow I/O, kept outside any transaction: call it from a view after the reads."""
    from weasyprint import CSS, HTML

    html = render_to_string(
        "commissions/refinancing_schedule_pdf.html",
        {
            "sim": simulation,
            "client_name": client_name,
            "document_id": document_id,
            "request_id": request_id,
            "status": status,
            "printed_at": timezone.localtime(),
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(
        stylesheets=[CSS(filename=str(STYLESHEET))]
    )

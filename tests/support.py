"""Shared test data: a small organisation and snapshot rows in the 7.1 shape."""

import csv
import io
from pathlib import Path

from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from portfolio.services import token_issue
from portfolio.snapshot import COLUMNS

ORGANISATION = """
zones:     [{code: Z1, name: Lima Norte}, {code: Z2, name: Sur}]
agencies:
  - {code: AG01, name: Comas, zone: Z1, lat: -11.94, lon: -77.06}
  - {code: AG02, name: Arequipa Centro, zone: Z2, lat: -16.40, lon: -71.54}
subzones:
  - {code: SZ01, agency: AG01, name: Comas Centro}
  - {code: SZ02, agency: AG01, name: Comas Alto}
  - {code: SZ10, agency: AG02, name: Cercado}
quadrants:
  - {code: Q0001, subzone: SZ01, lat: -11.9402, lon: -77.0611, size_m: 200}
  - {code: Q0002, subzone: SZ02, lat: -11.9300, lon: -77.0500, size_m: 200}
  - {code: Q0010, subzone: SZ10, lat: -16.4000, lon: -71.5400, size_m: 200}
officers:
  - {code: AS001, name: Rosa Quispe, agency: AG01, external_agency: null,
     subzones: [SZ01], tramos: [1, 2, 3], username: rquispe}
  - {code: AS002, name: Juan Mamani, agency: AG02, subzones: [SZ10], tramos: [1, 2],
     username: jmamani}
external_agencies: [{code: EX01, name: Recupera SAC}]
people:
  - {username: jcastro, role: jefe_agencia, agency: AG01}
  - {username: mflores, role: jefe_zonal, zone: Z1}
  - {username: gerencia, role: gerente}
"""


def row(**overrides) -> dict:
    base = {
        "credit_code": "CR1",
        "client_code": "C1",
        "client_name": "Rosa Quispe Mamani",
        "document_id": "40123456",
        "product": "Microempresa",
        "currency": "PEN",
        "disbursed_amount": "5000.00",
        "principal_balance": "3200.50",
        "overdue_amount": "450.00",
        "overdue_installments": "1",
        "total_installments": "12",
        "days_past_due": "12",
        "agency_code": "AG01",
        "next_due_date": "2026-12-05",
        "origin_officer_code": "AS001",
        "phone": "987654321",
        "email": "",
        "address": "Av. Túpac Amaru 1234, Comas",
        "lat": "-11.9401",
        "lon": "-77.0610",
        "quadrant_code": "",
        "late_interest": "12.30",
        "collection_fees": "0",
        "commissions": "0",
    }
    base.update(overrides)
    return base


def write_snapshot(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    columns = columns or [c.name for c in COLUMNS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def person(username: str):
    return get_user_model().objects.get(username=username)


def api_as(username: str, scopes: list[str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + token_issue(name=username, scopes=scopes).raw)
    return client

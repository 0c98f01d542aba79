"""`GET /api/v1/messages/?client_code=C`: scope `messages:read`, role-scoped."""

from rest_framework.test import APIClient

from notifications.services import dispatch
from tests.support import api_as, person


def test_a_clients_messages_with_the_gates_decisions(replay):
    dispatch(at=replay.at(1, 21))  # postponed: after 20:00
    dispatch(at=replay.at(2, 9))
    api = api_as("core-banking", ["messages:read"])
    response = api.get("/api/v1/messages/", {"client_code": "C1"})
    assert response.status_code == 200
    [row] = response.json()
    assert row["channel"] == "sms" and row["recipient"] == "debtor"
    assert (row["status"], row["gate"], row["gate_reason"]) == ("sent", "sent", "")
    assert row["template"] == "recordatorio_1"
    assert [(e["to_status"], e["reason"]) for e in row["events"]] == [
        ("queued", "quiet_hours"),
        ("sending", ""),
        ("sent", ""),
    ]
    assert "phone" not in row and "address" not in row


def test_the_scope_and_the_role_decide(replay):
    dispatch(at=replay.at(1, 10))
    assert (
        api_as("svc", ["cases:read"]).get("/api/v1/messages/", {"client_code": "C1"}).status_code
        == 403
    )
    asesor = APIClient()
    asesor.force_authenticate(person("jmamani"))  # Arequipa's officer: C2 only
    assert asesor.get("/api/v1/messages/", {"client_code": "C2"}).status_code == 200
    outside = asesor.get("/api/v1/messages/", {"client_code": "C1"})
    assert outside.status_code == 404 and outside.json()["code"] == "not_found"
    missing = api_as("svc2", ["messages:read"]).get("/api/v1/messages/")
    assert missing.status_code == 400 and missing.json()["field"] == "client_code"

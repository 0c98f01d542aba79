"""Test doubles: a recording gateway, a fake Twilio REST server on localhost (SMS,
WhatsApp and IVR calls), and e-mail backends that fail as SMTP servers do."""

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from notifications.gateways import GatewayError, Outgoing, Sent


class RecordingGateway:
    """Takes every message (status `sent`, a provider id per message) and remembers it."""

    name = "recording"
    sent: list[Outgoing] = []
    fail_with: GatewayError | None = None

    def send(self, message: Outgoing) -> Sent:
        if RecordingGateway.fail_with is not None:
            raise RecordingGateway.fail_with
        RecordingGateway.sent.append(message)
        return Sent(provider_id=f"REC{message.id}", status="sent")


class FakeTwilio:
    """Answers `POST /2010-04-01/Accounts/{sid}/Messages.json` (recorded in `requests`)
    and `.../Calls.json` (recorded in `calls`, each field's values in `call_lists`) as
    Twilio does, after checking the basic auth; `errors` is a queue of (HTTP status,
    Twilio code) answers to give before the next successes."""

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[dict[str, str]] = []
        self.calls: list[dict[str, str]] = []
        self.call_lists: list[dict[str, list[str]]] = []
        self.errors: list[tuple[int, int]] = []
        # WhatsApp as Meta rules it: free text only to numbers inside their 24-hour
        # window (the test says which), else error 63016; a template (ContentSid) always.
        self.whatsapp_sessions: set[str] = set()
        self.ids = (f"SM{n:032d}" for n in itertools.count(1))
        self.call_ids = (f"CA{n:032d}" for n in itertools.count(1))
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                account = f"/2010-04-01/Accounts/{fake.account_sid}"
                auth = self.headers.get("Authorization", "")
                credentials = f"{fake.account_sid}:{fake.auth_token}".encode()
                if auth != "Basic " + base64.b64encode(credentials).decode():
                    return self.answer(401, {"code": 20003, "message": "Authenticate"})
                if self.path not in (f"{account}/Messages.json", f"{account}/Calls.json"):
                    return self.answer(404, {"code": 20404, "message": "Not found"})
                length = int(self.headers.get("Content-Length", 0))
                fields = parse_qs(self.rfile.read(length).decode())
                form = {k: v[0] for k, v in fields.items()}
                if self.path.endswith("/Calls.json"):
                    fake.calls.append(form)
                    fake.call_lists.append(fields)
                else:
                    fake.requests.append(form)
                if fake.errors:
                    status, code = fake.errors.pop(0)
                    return self.answer(status, {"code": code, "message": "error", "status": status})
                if self.path.endswith("/Calls.json"):
                    return self.call_created(account, form)
                to = form.get("To", "")
                if (
                    to.startswith("whatsapp:")
                    and "ContentSid" not in form
                    and to.removeprefix("whatsapp:") not in fake.whatsapp_sessions
                ):
                    return self.answer(
                        400, {"code": 63016, "message": "outside the window", "status": 400}
                    )
                sid = next(fake.ids)
                return self.answer(
                    201,
                    {
                        "sid": sid,
                        "account_sid": fake.account_sid,
                        "to": form.get("To"),
                        "from": form.get("From"),
                        "body": form.get("Body"),
                        "status": "queued",
                        "num_segments": "1",
                        "direction": "outbound-api",
                        "uri": f"{account}/Messages/{sid}.json",
                    },
                )

            def call_created(self, account, form):
                sid = next(fake.call_ids)
                return self.answer(
                    201,
                    {
                        "sid": sid,
                        "account_sid": fake.account_sid,
                        "to": form.get("To"),
                        "from": form.get("From"),
                        "status": "queued",
                        "direction": "outbound-api",
                        "api_version": "2010-04-01",
                        "uri": f"{account}/Calls/{sid}.json",
                    },
                )

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class FailingEmailBackend:
    """An e-mail backend whose server answers as told (`error`: an exception to raise)."""

    error: Exception | None = None

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise FailingEmailBackend.error

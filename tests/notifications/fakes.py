"""Test doubles: a recording gateway, a fake Twilio REST server on localhost (SMS,
WhatsApp and IVR calls), and e-mail backends that fail as SMTP servers do."""

import base64
import contextlib
import itertools
import json
import sys
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

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


class QuietServer(ThreadingHTTPServer):
    """A client that went away (a read timeout, a killed worker) is no error here."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeTwilio:
    """Answers `POST /2010-04-01/Accounts/{sid}/Messages.json` (recorded in `requests`)
    and `.../Calls.json` (recorded in `calls`, each field's values in `call_lists`) as
    Twilio does, after checking the basic auth; `errors` is a queue of (HTTP status,
    Twilio code) answers to give before the next successes. `GET` of the messages path
    lists the messages it took, newest first, filtered by `To` and `From` and paged by
    `PageSize`, as Twilio's list does (it cannot filter by anything of ours). `delay`
    (seconds) holds each message's answer back after it is taken: a client's read
    timeout then loses the answer of a message the provider has."""

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[dict[str, str]] = []
        self.calls: list[dict[str, str]] = []
        self.call_lists: list[dict[str, list[str]]] = []
        self.messages: list[dict] = []  # what it took (the list's resources)
        self.errors: list[tuple[int, int]] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        # WhatsApp as Meta rules it: free text only to numbers inside their 24-hour
        # window (the test says which), else error 63016; a template (ContentSid) always.
        self.whatsapp_sessions: set[str] = set()
        self.ids = (f"SM{n:032d}" for n in itertools.count(1))
        self.call_ids = (f"CA{n:032d}" for n in itertools.count(1))
        fake = self
        path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Twilio: quick for many sends

            def log_message(self, *args):  # quiet
                pass

            def authorised(self) -> bool:
                auth = self.headers.get("Authorization", "")
                credentials = f"{fake.account_sid}:{fake.auth_token}".encode()
                if auth != "Basic " + base64.b64encode(credentials).decode():
                    self.answer(401, {"code": 20003, "message": "Authenticate"})
                    return False
                return True

            def do_GET(self):
                if not self.authorised():
                    return None
                url = urlsplit(self.path)
                if url.path != path:
                    return self.answer(404, {"code": 20404, "message": "Not found"})
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                size = int(query.get("PageSize", 50))
                wanted = {key: query[name] for name, key in (("To", "to"), ("From", "from"))
                          if name in query}  # fmt: skip
                with fake.lock:
                    found = [
                        m
                        for m in reversed(fake.messages)
                        if all(m[key] == value for key, value in wanted.items())
                    ]
                more = len(found) > size
                return self.answer(
                    200,
                    {
                        "messages": found[:size],
                        "first_page_uri": self.path,
                        "next_page_uri": f"{path}?PageSize={size}&Page=1&PageToken=PA1"
                        if more
                        else None,
                        "previous_page_uri": None,
                        "page": 0,
                        "page_size": size,
                        "start": 0,
                        "end": min(size, len(found)) - 1,
                        "uri": self.path,
                    },
                )

            def do_POST(self):
                if not self.authorised():
                    return None
                account = f"/2010-04-01/Accounts/{fake.account_sid}"
                if self.path not in (path, f"{account}/Calls.json"):
                    return self.answer(404, {"code": 20404, "message": "Not found"})
                length = int(self.headers.get("Content-Length", 0))
                data = self.rfile.read(length)
                if len(data) < length:  # the client went away mid-request: nothing taken
                    return None
                fields = parse_qs(data.decode())
                form = {k: v[0] for k, v in fields.items()}
                with fake.lock:
                    if self.path.endswith("/Calls.json"):
                        fake.calls.append(form)
                        fake.call_lists.append(fields)
                    else:
                        fake.requests.append(form)
                    error = fake.errors.pop(0) if fake.errors else None
                if error:
                    status, code = error
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
                with fake.lock:
                    sid = next(fake.ids)
                    message = {
                        "sid": sid,
                        "account_sid": fake.account_sid,
                        "to": form.get("To"),
                        "from": form.get("From"),
                        "messaging_service_sid": form.get("MessagingServiceSid"),
                        "body": form.get("Body"),
                        "status": "queued",
                        "num_segments": "1",
                        "direction": "outbound-api",
                        "date_created": format_datetime(datetime.now(UTC)),
                        "date_sent": None,
                        "uri": f"{path[:-5]}/{sid}.json",
                    }
                    fake.messages.append(message)
                if fake.delay:
                    time.sleep(fake.delay)
                return self.answer(201, message)

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
                # The client may have given up waiting (a read timeout): its answer is lost.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def callbacks(self) -> list[str]:
        """The status callback URL of every message taken (they name our rows)."""
        with self.lock:
            return [r.get("StatusCallback", "") for r in self.requests]

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

"""A local stand-in for Twilio's REST API, for the official SDK to talk to in tests.

``TwilioStandIn`` is a small threaded HTTP server on 127.0.0.1 (a port of its own) that answers
the one call Switchboard's SMS adapter makes, the way Twilio does:

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with a form-encoded body (``To``,
  ``From`` or ``MessagingServiceSid``, ``Body``) creates a message and answers ``201`` with its
  JSON (``sid`` ``SM...``, ``status`` ``queued``, or ``accepted`` through a messaging service).
- Credentials come as HTTP Basic auth, the account sid and its auth token; a missing one, or a
  user that is not the account in the path, is Twilio's ``401`` (code 20003).
- Errors are Twilio's JSON: ``{"code", "message", "more_info", "status"}``.

Every request is recorded (method, path, headers with lower-case names, Basic credentials, form
fields, raw body). ``fail_next`` makes the next requests fail: a 500, a 400 "invalid To number"
(code 21211), a 429 or a 401.

Use it as a context manager; the server stops, and its port closes, when the block exits::

    with TwilioStandIn() as twilio_api:
        plugin = TwilioPlugin(api_base=twilio_api.api_base)
"""

from __future__ import annotations

import re
import secrets
from email.utils import formatdate
from typing import Any

from tests.fakes.standin import Answer, RecordedRequest, StandIn

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")

# What Twilio answers for each failure a test can ask for: (code, message).
FAILURES: dict[int, tuple[int, str]] = {
    400: (21211, "Invalid 'To' Phone Number"),
    401: (20003, "Authenticate"),
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    503: (20503, "Service Unavailable"),
}


def _error(status: int, code: int, message: str) -> Answer:
    return Answer(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class TwilioStandIn(StandIn):
    PROVIDER = "Twilio"
    FAILURES = FAILURES
    CONTENT_TYPE = "application/json; charset=utf-8"

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, dict[str, Any]] = {}

    # --- answering ---------------------------------------------------------------------------

    def answer_failure(self, failure: int) -> Answer:
        return _error(failure, *FAILURES[failure])

    def route(self, request: RecordedRequest) -> Answer:
        matched = MESSAGES_PATH.match(request.path)
        if request.method != "POST" or matched is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        credentials = request.basic_auth
        if credentials is None or credentials[0] != matched.group(1) or not credentials[1]:
            return _error(401, *FAILURES[401])
        return self._create_message(matched.group(1), request.form)

    def response_headers(self) -> tuple[tuple[str, str], ...]:
        return (("Twilio-Request-Id", f"RQ{secrets.token_hex(16)}"),)

    def _create_message(self, account_sid: str, form: dict[str, str]) -> Answer:
        to, sender, service = form.get("To"), form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not re.fullmatch(r"\+[1-9][0-9]{6,14}", to):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not sender and not service:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        sid = f"SM{secrets.token_hex(16)}"
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        message = {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # Through a messaging service Twilio first accepts, then picks a sender and queues.
            "status": "queued" if sender else "accepted",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self.messages[sid] = message
        return Answer(201, message)

"""A local stand-in for Stripe's API, for the official SDK to talk to in tests.

``StripeStandIn`` is a small threaded HTTP server on 127.0.0.1 (a port of its own) that answers
the two calls Switchboard's payments adapter makes, the way Stripe does:

- ``POST /v1/payment_intents`` creates a PaymentIntent (``pi_...``, ``requires_payment_method``,
  with a client secret); ``POST /v1/refunds`` refunds a succeeded one in full or in part;
  ``POST /v1/checkout/sessions`` makes a Checkout Session (``cs_...``, mode ``payment``, its
  ``url`` on checkout.stripe.com) whose payment intent, made when the customer pays, carries
  the ``payment_intent_data[metadata]`` it was given.
- Request bodies are ``application/x-www-form-urlencoded``, nested fields bracketed
  (``metadata[order]=42``); answers are JSON, with a ``Request-Id`` header; errors are Stripe's
  ``{"error": {"type", "code", "message", ...}}`` with Stripe's status codes.
- The secret key comes as ``Authorization: Bearer sk_...``; anything else is a 401.
- Idempotency like Stripe's: a repeated ``Idempotency-Key`` (per API key) with the same
  parameters replays the first answer (with ``Idempotent-Replayed: true``) and creates nothing;
  with other parameters it is a 400 ``idempotency_error``.

Every request is recorded (method, path, headers with lower-case names, form fields, raw body),
replays included, so a test sees what was sent; the objects created are counted separately.
``fail_next`` makes the next requests fail (a 500, a 402 card decline, a 429, ...) before the
idempotency layer, as a request Stripe never began executing: nothing is saved under its key.

What the customer and Stripe do meanwhile is arranged by the test: ``mark_succeeded`` (the
customer paid an intent), ``complete_checkout`` (the customer paid on a Checkout page),
``refunds_settle_later`` then ``settle_refund`` (a refund Stripe answers ``pending`` and settles
afterwards). Each records the events Stripe would send, in order, in ``events``, shaped as
Stripe's snapshot events (``payment_intent.succeeded``; ``refund.created``, ``refund.updated``,
``refund.failed`` and ``charge.refunded`` as API versions since 2024-10-28 send them: the charge
without its refunds list). ``stripe_delivery(event, secret)`` signs one as Stripe does, with the
SDK's own helper, for a test to post to the webhook endpoint.

Use it as a context manager; the server stops, and its port closes, when the block exits::

    with StripeStandIn() as stripe_api:
        client = stripe.StripeClient("sk_test_...", base_addresses={"api": stripe_api.api_base})
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import stripe

from tests.fakes.standin import Answer, RecordedRequest, StandIn

API_VERSION = "2025-09-30.clover"
CHECKOUT_LIFETIME_SECONDS = 24 * 3600

REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}

# What Stripe answers for each failure a test can ask for: (error type, code, message).
FAILURES: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", "parameter_invalid_empty", "Invalid request."),
    401: ("invalid_request_error", None, "Invalid API Key provided."),
    402: ("card_error", "card_declined", "Your card was declined."),
    409: ("invalid_request_error", "lock_timeout", "This object cannot be accessed right now."),
    429: ("invalid_request_error", "rate_limit", "Too many requests hit the API too quickly."),
    500: ("api_error", None, "Sorry, something went wrong. We've already been notified of the problem."),
    503: ("api_error", None, "Stripe is temporarily unavailable."),
}


@dataclass(frozen=True)
class _Failure:
    status: int
    should_retry: bool | None


class StripeError(Exception):
    """Raised inside the stand-in to answer with one of Stripe's error bodies."""

    def __init__(self, status: int, type_: str, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.answer = Answer(status, {"error": {"type": type_, "code": code, "message": message, **extra}})


def _new_id(prefix: str) -> str:
    return f"{prefix}_3{secrets.token_hex(12)}"


class StripeStandIn(StandIn):
    PROVIDER = "Stripe"
    FAILURES = FAILURES
    METHODS = ("GET", "POST", "DELETE")

    def __init__(self, *, delay: float = 0.0, accepted_keys: set[str] | None = None) -> None:
        """``delay`` seconds pass before each answer; ``accepted_keys``, when given, are the
        only API keys that authenticate (otherwise any ``sk_``/``rk_`` key does)."""
        super().__init__()
        self.delay = delay
        self.accepted_keys = accepted_keys
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []  # what Stripe would send to webhook endpoints
        self.refunds_settle_later = False  # True: new refunds are answered "pending"
        self._intent_data: dict[str, dict[str, Any]] = {}  # a session's payment_intent_data
        self._saved: dict[tuple[str, str], tuple[tuple[str, str, tuple[tuple[str, str], ...]], Answer]] = {}

    # --- what tests read and arrange ---------------------------------------------------------

    @property
    def objects_created(self) -> int:
        with self._lock:
            return len(self.payment_intents) + len(self.refunds) + len(self.checkout_sessions)

    def events_of(self, type_: str) -> list[dict[str, Any]]:
        with self._lock:
            return [event for event in self.events if event["type"] == type_]

    def fail_next(self, count: int = 1, status: int = 500, *, should_retry: bool | None = None) -> None:
        """Answer the next ``count`` requests with Stripe's error for ``status`` (see FAILURES),
        with a ``Stripe-Should-Retry`` header when ``should_retry`` is given."""
        self._queue_failures(count, status, _Failure(status, should_retry))

    def mark_succeeded(self, payment_intent_id: str) -> dict[str, Any]:
        """What happens when the customer pays: the intent succeeds and its charge is captured.
        Returns the ``payment_intent.succeeded`` event Stripe sends."""
        with self._lock:
            intent = self.payment_intents[payment_intent_id]
            intent.update(
                status="succeeded",
                amount_received=intent["amount"],
                latest_charge=_new_id("ch"),
                payment_method=_new_id("pm"),
            )
            return self._emit("payment_intent.succeeded", intent)

    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """The customer pays on the Checkout page: a payment intent for the session's amount,
        with the session's ``payment_intent_data``, succeeds. Returns its
        ``payment_intent.succeeded`` event (``checkout.session.completed`` is recorded too)."""
        with self._lock:
            session = self.checkout_sessions[session_id]
            data = self._intent_data[session_id]
            intent_id = _new_id("pi")
            self.payment_intents[intent_id] = _intent(
                intent_id,
                session["amount_total"],
                session["currency"],
                data.get("description"),
                data.get("metadata", {}),
                livemode=False,
            )
            session.update(status="complete", payment_status="paid", payment_intent=intent_id)
            self._emit("checkout.session.completed", session)
        return self.mark_succeeded(intent_id)

    def settle_refund(self, refund_id: str, status: str = "succeeded") -> dict[str, Any]:
        """A pending refund ends ``succeeded`` or ``failed``; returns its ``refund.updated``
        event (a failure also records ``refund.failed``)."""
        with self._lock:
            refund = self.refunds[refund_id]
            refund["status"] = status
            if status == "failed":
                refund["failure_reason"] = "expired_or_canceled_card"
            event = self._emit("refund.updated", refund)
            if status == "failed":
                self._emit("refund.failed", refund)
            elif status == "succeeded":
                self._emit_charge_refunded(refund["payment_intent"])
            return event

    def _emit(self, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": json.loads(json.dumps(obj))},  # as it stood then
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }
        self.events.append(event)
        return event

    def _emit_charge_refunded(self, intent_id: str) -> None:
        intent = self.payment_intents[intent_id]
        refunded = sum(
            r["amount"]
            for r in self.refunds.values()
            if r["payment_intent"] == intent_id and r["status"] == "succeeded"
        )
        charge = {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount_received"],
            "amount_refunded": refunded,
            "currency": intent["currency"],
            "payment_intent": intent_id,
            "refunded": refunded >= intent["amount_received"],
            "status": "succeeded",
        }
        self._emit("charge.refunded", charge)

    # --- answering ---------------------------------------------------------------------------

    def route(self, request: RecordedRequest) -> Answer:
        try:
            api_key = self._authenticate(request)
            with self._lock:  # one request at a time past here, as Stripe locks on the key
                return self._idempotent(api_key, request)
        except StripeError as error:
            return error.answer

    def answer_failure(self, failure: _Failure) -> Answer:
        type_, code, message = FAILURES[failure.status]
        extra = {"decline_code": "generic_decline"} if failure.status == 402 else {}
        answer = StripeError(failure.status, type_, message, code, **extra).answer
        if failure.should_retry is not None:
            header = ("Stripe-Should-Retry", "true" if failure.should_retry else "false")
            return Answer(answer.status, answer.body, (header,))
        return answer

    def response_headers(self) -> tuple[tuple[str, str], ...]:
        return (("Request-Id", f"req_{secrets.token_hex(7)}"),)

    def _authenticate(self, request: RecordedRequest) -> str:
        key = request.api_key
        known = self.accepted_keys is None or key in self.accepted_keys
        if not key or not re.match(r"^(sk|rk)_(test|live)_\w+$", key) or not known:
            raise StripeError(401, "invalid_request_error", "Invalid API Key provided.")
        return key

    def _idempotent(self, api_key: str, request: RecordedRequest) -> Answer:
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or not key:
            return self._dispatch(request)
        fingerprint = (request.method, request.path, tuple(sorted(request.form.items())))
        saved = self._saved.get((api_key, key))
        if saved is not None:
            if saved[0] != fingerprint:
                raise StripeError(
                    400,
                    "idempotency_error",
                    f"Keys for idempotent requests can only be used with the same parameters they were "
                    f"first used with. Try using a key other than '{key}' if you meant to execute a "
                    f"different request.",
                )
            answer = saved[1]
            return Answer(answer.status, answer.body, (*answer.headers, ("Idempotent-Replayed", "true")))
        try:
            answer = self._dispatch(request)
        except StripeError as error:
            answer = error.answer  # Stripe saves errors from a request it executed, too
        self._saved[(api_key, key)] = (fingerprint, answer)
        return answer

    def _dispatch(self, request: RecordedRequest) -> Answer:
        if (request.method, request.path) == ("POST", "/v1/payment_intents"):
            return Answer(200, self._create_payment_intent(request))
        if (request.method, request.path) == ("POST", "/v1/refunds"):
            return Answer(200, self._create_refund(request))
        if (request.method, request.path) == ("POST", "/v1/checkout/sessions"):
            return Answer(200, self._create_checkout_session(request))
        raise StripeError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({request.method}: {request.path}).",
        )

    def _create_payment_intent(self, request: RecordedRequest) -> dict[str, Any]:
        form = request.form
        amount = _positive_integer(form, "amount", required=True)
        currency = form.get("currency", "")
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise StripeError(
                400,
                "invalid_request_error",
                "Missing required param: currency.",
                "parameter_missing",
                param="currency",
            )
        intent_id = _new_id("pi")
        intent = _intent(
            intent_id,
            amount,
            currency,
            form.get("description"),
            request.nested("metadata"),
            livemode=request.api_key is not None and "_live_" in request.api_key,
        )
        self.payment_intents[intent_id] = intent
        return intent

    def _create_checkout_session(self, request: RecordedRequest) -> dict[str, Any]:
        form = request.form
        if form.get("mode") != "payment":
            raise StripeError(
                400, "invalid_request_error", "Only mode=payment is served here.", "parameter_invalid_string"
            )
        success_url = form.get("success_url", "")
        if not re.match(r"^https?://\S+$", success_url):
            raise StripeError(
                400, "invalid_request_error", "Not a valid URL", "url_invalid", param="success_url"
            )
        line = "line_items[0]"
        currency = form.get(f"{line}[price_data][currency]", "")
        amount = _positive_integer(form, f"{line}[price_data][unit_amount]", required=True)
        quantity = _positive_integer(form, f"{line}[quantity]", required=True)
        name = form.get(f"{line}[price_data][product_data][name]")
        if not re.fullmatch(r"[a-z]{3}", currency) or not name:
            raise StripeError(
                400, "invalid_request_error", "Invalid line_items[0][price_data].", "parameter_invalid_empty"
            )
        if any(key.startswith("line_items[1]") for key in form):
            raise StripeError(400, "invalid_request_error", "One line is served here.", "parameter_unknown")
        session_id = "cs_test_" + secrets.token_hex(16)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount * quantity,
            "amount_total": amount * quantity,
            "cancel_url": form.get("cancel_url"),
            "created": int(time.time()),
            "currency": currency,
            "customer_email": form.get("customer_email"),
            "expires_at": int(time.time()) + CHECKOUT_LIFETIME_SECONDS,
            "livemode": False,
            "metadata": request.nested("metadata"),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": success_url,
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self._intent_data[session_id] = {
            "metadata": _nested(form, "payment_intent_data[metadata]"),
            "description": form.get("payment_intent_data[description]"),
        }
        self.checkout_sessions[session_id] = session
        return session

    def _create_refund(self, request: RecordedRequest) -> dict[str, Any]:
        form = request.form
        intent_id = form.get("payment_intent")
        if not intent_id:
            raise StripeError(
                400,
                "invalid_request_error",
                "One of the following params should be provided for this request: payment_intent or charge.",
                "parameter_missing",
            )
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise StripeError(
                400,
                "invalid_request_error",
                f"No such payment_intent: '{intent_id}'",
                "resource_missing",
                param="payment_intent",
            )
        if intent["status"] != "succeeded":
            raise StripeError(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                "charge_not_refundable",
            )
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent_id)
        remaining = intent["amount_received"] - refunded
        if remaining <= 0:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Charge {intent['latest_charge']} has already been refunded.",
                "charge_already_refunded",
            )
        amount = _positive_integer(form, "amount", required=False) or remaining
        if amount > remaining:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                "amount_too_large",
                param="amount",
            )
        reason = form.get("reason") or None
        if reason is not None and reason not in REFUND_REASONS:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Invalid reason: must be one of {sorted(REFUND_REASONS)}",
                "parameter_invalid_string",
                param="reason",
            )
        refund = {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": _new_id("txn"),
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "failure_reason": None,
            "metadata": request.nested("metadata"),
            "payment_intent": intent_id,
            "reason": reason,
            "status": "pending" if self.refunds_settle_later else "succeeded",
        }
        self.refunds[refund["id"]] = refund
        self._emit("refund.created", refund)
        if refund["status"] == "succeeded":
            self._emit_charge_refunded(intent_id)
        return refund


def _intent(
    intent_id: str,
    amount: int,
    currency: str,
    description: str | None,
    metadata: dict[str, str],
    *,
    livemode: bool,
) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "canceled_at": None,
        "capture_method": "automatic_async",
        "client_secret": f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
        "confirmation_method": "automatic",
        "created": int(time.time()),
        "currency": currency.lower(),
        "customer": None,
        "description": description,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": livemode,
        "metadata": dict(metadata),
        "next_action": None,
        "payment_method": None,
        "payment_method_types": ["card", "link"],
        "status": "requires_payment_method",
    }


def _nested(form: dict[str, str], prefix: str) -> dict[str, str]:
    """The form fields sent as ``prefix[key]=value``, as ``{key: value}``."""
    start = f"{prefix}["
    return {k[len(start) : -1]: v for k, v in form.items() if k.startswith(start) and k.endswith("]")}


def stripe_delivery(
    event: dict[str, Any], secret: str, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of Stripe's call delivering ``event``, signed with the endpoint's
    ``secret`` by the SDK's own helper."""
    body = json.dumps(event, separators=(",", ":"))
    signature = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    headers = {"content-type": "application/json; charset=utf-8", "stripe-signature": signature}
    return body.encode(), headers


def _positive_integer(form: dict[str, str], name: str, *, required: bool) -> int:
    value = form.get(name)
    if value is None and not required:
        return 0
    if value is None:
        raise StripeError(
            400, "invalid_request_error", f"Missing required param: {name}.", "parameter_missing", param=name
        )
    if not value.isdigit() or int(value) < 1:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Invalid positive integer: {name}",
            "parameter_invalid_integer",
            param=name,
        )
    return int(value)

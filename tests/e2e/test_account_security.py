"""Account security over HTTP: a second factor (TOTP and recovery codes), brute-force protection
of sign-in with lockout and unlock, the password policy at sign-up, email verification, password
reset, sessions, and password change.

Every test that fails on purpose calls from a client address of its own (``Caller.fresh``), as
the throttle's counters live for the whole test session.
"""

from __future__ import annotations

import dataclasses
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
import pyotp
import pytest

from switchboard.entrypoints.http.blueprints.account import (
    EnrolmentOut,
    MfaStatusOut,
    RecoveryCodesOut,
    SessionListOut,
    SessionOut,
)
from switchboard.entrypoints.http.blueprints.auth import MfaRequiredOut
from switchboard.entrypoints.http.blueprints.team import MemberListOut, MemberOut
from tests.e2e.account_helpers import (
    INVITATION_PAGE,
    RESET_PAGE,
    STEP,
    UNLOCK_PAGE,
    VERIFY_PAGE,
    Account,
    Authenticator,
    Caller,
    FakeClock,
    WallClock,
    bearer,
    mailed_token,
    mails_to,
    new_password,
    open_account,
    session_of,
    tampered,
    token_in,
    totp_clock_start,
)
from tests.e2e.helpers import conforms, error_fields, expect_problem, register, tokens_of, unique_email

SVG = "{http://www.w3.org/2000/svg}svg"
RATE_LIMIT_HEADERS = ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


@pytest.fixture
def clock(container) -> Iterator[FakeClock]:
    """The server's clock, standing still a few minutes in the past, so TOTP steps are chosen by
    the test rather than by the wall clock."""
    fake = FakeClock(totp_clock_start())
    container.identity.override(dataclasses.replace(container.identity(), clock=fake))
    try:
        yield fake
    finally:
        container.identity.reset_last_overriding()


@pytest.fixture
def wall_clock(monkeypatch) -> WallClock:
    return WallClock(monkeypatch)


@pytest.fixture
def web(client) -> Caller:
    return Caller.fresh(client)


# --- helpers ----------------------------------------------------------------------------------


async def _mfa_status(web: Caller, who: Account) -> MfaStatusOut:
    response = await web.get("/v1/auth/mfa", headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    return conforms(MfaStatusOut, await response.get_json())


async def _start_enrolment(web: Caller, who: Account) -> dict[str, Any]:
    response = await web.post("/v1/auth/mfa/totp", headers=who.auth)
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(EnrolmentOut, body)
    return body


async def _enable_mfa(web: Caller, who: Account, clock: FakeClock) -> tuple[Authenticator, list[str]]:
    """Enrol and confirm TOTP; the authenticator app and the recovery codes."""
    app = Authenticator((await _start_enrolment(web, who))["secret"], clock)
    response = await web.post("/v1/auth/mfa/totp/confirm", json={"code": app.code_at()}, headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    codes = conforms(RecoveryCodesOut, await response.get_json()).recovery_codes
    return app, codes


async def _challenge(web: Caller, who: Account) -> str:
    """Sign in with the password; the second-step challenge token."""
    response = await web.login(who.email, who.password)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(MfaRequiredOut, body)
    return str(body["challenge_token"])


async def _verify(web: Caller, challenge: str, code: str) -> Any:
    return await web.post("/v1/auth/mfa/verify", json={"challenge_token": challenge, "code": code})


def _rate_limited(response: Any) -> dict[str, int]:
    assert response.status_code == 429
    headers = {name: int(response.headers[name]) for name in RATE_LIMIT_HEADERS}
    assert headers["Retry-After"] > 0
    assert headers["RateLimit-Reset"] == headers["Retry-After"]
    assert headers["RateLimit-Remaining"] == 0
    assert headers["RateLimit-Limit"] > 0
    return headers


async def _members(web: Caller, who: Account) -> dict[str, dict[str, Any]]:
    response = await web.get("/v1/team/members", headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(MemberListOut, body)
    for member in body["data"]:
        conforms(MemberOut, member)
    return {member["user_id"]: member for member in body["data"]}


async def _sessions(web: Caller, access_token: str) -> list[dict[str, Any]]:
    response = await web.get("/v1/auth/sessions", headers=bearer(access_token))
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(SessionListOut, body)
    for item in body["data"]:
        conforms(SessionOut, item)
    data: list[dict[str, Any]] = body["data"]
    return data


async def _still_works(web: Caller, access_token: str) -> bool:
    return bool((await web.me(access_token)).status_code == 200)


async def _refused_everywhere(web: Caller, access_token: str, refresh_token: str) -> None:
    await expect_problem(await web.me(access_token), 401, "unauthenticated")
    await expect_problem(await web.refresh(refresh_token), 401, "unauthenticated")


# --- TOTP enrolment ---------------------------------------------------------------------------


async def test_starting_totp_enrolment_answers_a_switchboard_otpauth_uri_and_an_svg_qr_code(client, web):
    owner = await open_account(client)

    body = await _start_enrolment(web, owner)

    uri = urlsplit(body["provisioning_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert owner.email in unquote(uri.path)
    query = parse_qs(uri.query)
    assert query["issuer"] == ["Switchboard"]
    assert query["secret"] == [body["secret"]]
    assert pyotp.parse_uri(body["provisioning_uri"]).now() == pyotp.TOTP(body["secret"]).now()
    svg = ET.fromstring(body["qr_svg"])  # noqa: S314 (our own server's output)
    assert svg.tag == SVG
    assert body["qr_svg"].lstrip().startswith("<svg")


async def test_an_enrolment_waiting_for_its_first_code_is_pending_and_does_not_change_sign_in(client, web):
    owner = await open_account(client)
    await _start_enrolment(web, owner)

    status = await _mfa_status(web, owner)
    signed_in = await tokens_of(await web.login(owner.email, owner.password))

    assert (status.enabled, status.pending, status.recovery_codes_left) == (False, True, 0)
    assert await _still_works(web, signed_in["access_token"])


async def test_confirming_with_a_first_code_turns_mfa_on_and_shows_ten_recovery_codes_once(
    client, web, clock
):
    owner = await open_account(client)
    app = Authenticator((await _start_enrolment(web, owner))["secret"], clock)

    response = await web.post("/v1/auth/mfa/totp/confirm", json={"code": app.code_at()}, headers=owner.auth)

    assert response.status_code == 200
    codes = conforms(RecoveryCodesOut, await response.get_json()).recovery_codes
    assert len(codes) == 10
    assert len(set(codes)) == 10
    status = await _mfa_status(web, owner)
    assert (status.enabled, status.pending, status.recovery_codes_left) == (True, False, 10)
    again = await web.post("/v1/auth/mfa/totp/confirm", json={"code": app.next_code()}, headers=owner.auth)
    await expect_problem(again, 409)
    assert "recovery_codes" not in (await again.get_json())


async def test_confirming_with_a_wrong_code_answers_400_and_leaves_mfa_off(client, web, clock):
    owner = await open_account(client)
    app = Authenticator((await _start_enrolment(web, owner))["secret"], clock)

    response = await web.post(
        "/v1/auth/mfa/totp/confirm", json={"code": app.wrong_code()}, headers=owner.auth
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"code"}
    status = await _mfa_status(web, owner)
    assert (status.enabled, status.pending) == (False, True)
    await tokens_of(await web.login(owner.email, owner.password))


async def test_starting_enrolment_again_while_mfa_is_on_answers_409_and_keeps_the_factor(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)

    response = await web.post("/v1/auth/mfa/totp", headers=owner.auth)

    await expect_problem(response, 409)
    await tokens_of(await _verify(web, await _challenge(web, owner), app.next_code()))


# --- signing in with a second factor ----------------------------------------------------------


async def test_with_mfa_on_the_password_alone_answers_a_challenge_and_no_tokens(client, web, clock):
    owner = await open_account(client)
    await _enable_mfa(web, owner, clock)

    response = await web.login(owner.email, owner.password)

    assert response.status_code == 200
    body = await response.get_json()
    conforms(MfaRequiredOut, body)  # exactly these keys: no access or refresh token
    assert body["mfa_required"] is True
    assert body["expires_in"] == 300
    assert "access_token" not in body
    assert "refresh_token" not in body


async def test_a_fresh_code_finishes_sign_in_with_a_working_token_pair(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)
    challenge = await _challenge(web, owner)

    body = await tokens_of(await _verify(web, challenge, app.next_code()))

    assert (body["user_id"], body["tenant_id"]) == (owner.user_id, owner.tenant_id)
    assert await _still_works(web, body["access_token"])
    await tokens_of(await web.refresh(body["refresh_token"]))


async def test_a_code_is_accepted_once_so_replaying_it_is_refused(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)
    code = app.next_code()
    await tokens_of(await _verify(web, await _challenge(web, owner), code))

    replayed = await _verify(web, await _challenge(web, owner), code)

    await expect_problem(replayed, 401, "unauthenticated")


async def test_the_code_used_to_confirm_enrolment_cannot_be_used_to_sign_in(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)  # confirmed with the code of this step

    replayed = await _verify(web, await _challenge(web, owner), app.code_at())

    await expect_problem(replayed, 401, "unauthenticated")


async def test_an_unused_code_of_an_earlier_step_is_refused_once_a_later_step_was_used(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)
    clock.advance(STEP)
    earlier = app.code_at()
    await tokens_of(await _verify(web, await _challenge(web, owner), app.code_at(STEP)))  # the next step

    response = await _verify(web, await _challenge(web, owner), earlier)

    await expect_problem(response, 401, "unauthenticated")


@pytest.mark.parametrize("steps", [2, -2], ids=["two-steps-ahead", "two-steps-behind"])
async def test_a_code_two_steps_away_from_the_servers_time_is_refused(client, web, clock, steps):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)
    clock.advance(3 * STEP)
    challenge = await _challenge(web, owner)

    response = await _verify(web, challenge, app.code_at(steps * STEP))

    await expect_problem(response, 401, "unauthenticated")
    await tokens_of(await _verify(web, challenge, app.code_at()))  # the current code still works


async def test_a_code_one_step_ahead_is_accepted_as_clock_drift(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)
    clock.advance(STEP)

    response = await _verify(web, await _challenge(web, owner), app.code_at(STEP))

    await tokens_of(response)


async def test_a_wrong_code_answers_401_and_no_tokens(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)
    clock.advance(STEP)

    response = await _verify(web, await _challenge(web, owner), app.wrong_code())

    body = await expect_problem(response, 401, "unauthenticated")
    assert "access_token" not in body


async def test_a_recovery_code_signs_in_once_only(client, web, clock):
    owner = await open_account(client)
    _, recovery_codes = await _enable_mfa(web, owner, clock)

    first = await _verify(web, await _challenge(web, owner), recovery_codes[3])
    second = await _verify(web, await _challenge(web, owner), recovery_codes[3])

    body = await tokens_of(first)
    assert await _still_works(web, body["access_token"])
    await expect_problem(second, 401, "unauthenticated")
    assert (await _mfa_status(web, owner)).recovery_codes_left == 9


async def test_a_recovery_code_is_accepted_in_capitals_and_with_spaces(client, web, clock):
    owner = await open_account(client)
    _, recovery_codes = await _enable_mfa(web, owner, clock)

    typed = " " + recovery_codes[0].upper() + " "
    await tokens_of(await _verify(web, await _challenge(web, owner), typed))


async def test_an_expired_challenge_token_is_refused_and_the_code_stays_unused(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)
    now = clock.now()
    clock.travel_to(datetime.now(UTC) - timedelta(minutes=10))
    expired = await _challenge(web, owner)
    clock.travel_to(now)
    code = app.next_code()

    response = await _verify(web, expired, code)

    await expect_problem(response, 401, "unauthenticated")
    await tokens_of(await _verify(web, await _challenge(web, owner), code))


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda challenge, other: tampered(challenge, sub=other.user_id), id="sub-swapped"),
        pytest.param(lambda challenge, other: tampered(challenge, exp=4102444800), id="exp-extended"),
        pytest.param(lambda challenge, other: challenge[:-6] + "AAAAAA", id="signature-changed"),
        pytest.param(lambda challenge, other: other.access_token, id="an-access-token"),
        pytest.param(lambda challenge, other: other.refresh_token, id="a-refresh-token"),
        pytest.param(lambda challenge, other: "not-a-token", id="garbage"),
    ],
)
async def test_a_tampered_or_wrong_kind_of_challenge_token_is_refused_with_401(client, web, clock, forge):
    owner = await open_account(client)
    other = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)
    challenge = await _challenge(web, owner)
    code = app.next_code()

    response = await _verify(web, forge(challenge, other), code)

    await expect_problem(response, 401, "unauthenticated")
    await tokens_of(await _verify(web, challenge, code))  # the code was not spent


async def test_an_access_token_of_the_same_user_is_not_a_challenge_token(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)

    response = await _verify(web, owner.access_token, app.next_code())

    await expect_problem(response, 401, "unauthenticated")


# --- turning MFA off, recovery codes ----------------------------------------------------------


async def test_disabling_mfa_with_a_fresh_code_turns_it_off_and_sign_in_answers_tokens_again(
    client, web, clock
):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)

    response = await web.post("/v1/auth/mfa/disable", json={"code": app.next_code()}, headers=owner.auth)

    assert response.status_code == 204
    status = await _mfa_status(web, owner)
    assert (status.enabled, status.pending, status.recovery_codes_left) == (False, False, 0)
    await tokens_of(await web.login(owner.email, owner.password))


async def test_disabling_mfa_with_the_password_turns_it_off(client, web, clock):
    owner = await open_account(client)
    await _enable_mfa(web, owner, clock)

    response = await web.post("/v1/auth/mfa/disable", json={"password": owner.password}, headers=owner.auth)

    assert response.status_code == 204
    assert not (await _mfa_status(web, owner)).enabled
    await tokens_of(await web.login(owner.email, owner.password))


@pytest.mark.parametrize(
    ("proof", "field"),
    [
        pytest.param(lambda app, codes, owner: {"code": app.wrong_code()}, "code", id="wrong-code"),
        pytest.param(lambda app, codes, owner: {"code": app.code_at()}, "code", id="used-code"),
        pytest.param(lambda app, codes, owner: {"code": codes[0]}, "code", id="recovery-code"),
        pytest.param(
            lambda app, codes, owner: {"password": owner.password + "x"}, "password", id="wrong-password"
        ),
    ],
)
async def test_disabling_mfa_with_a_wrong_proof_answers_400_and_mfa_stays_on(
    client, web, clock, proof, field
):
    owner = await open_account(client)
    app, codes = await _enable_mfa(web, owner, clock)

    response = await web.post("/v1/auth/mfa/disable", json=proof(app, codes, owner), headers=owner.auth)

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {field}
    status = await _mfa_status(web, owner)
    assert (status.enabled, status.recovery_codes_left) == (True, 10)
    await _challenge(web, owner)  # sign-in still asks for the second factor


@pytest.mark.parametrize("body", [{}, {"code": "123456", "password": "whatever it is"}])
async def test_disabling_mfa_needs_exactly_one_of_code_or_password(client, web, clock, body):
    owner = await open_account(client)
    await _enable_mfa(web, owner, clock)

    response = await web.post("/v1/auth/mfa/disable", json=body, headers=owner.auth)

    await expect_problem(response, 400)
    assert (await _mfa_status(web, owner)).enabled


async def test_regenerating_recovery_codes_gives_ten_new_ones_and_the_old_ones_stop_working(
    client, web, clock
):
    owner = await open_account(client)
    app, old_codes = await _enable_mfa(web, owner, clock)

    response = await web.post(
        "/v1/auth/mfa/recovery-codes", json={"code": app.next_code()}, headers=owner.auth
    )

    assert response.status_code == 200
    new_codes = conforms(RecoveryCodesOut, await response.get_json()).recovery_codes
    assert len(set(new_codes)) == 10
    assert not set(new_codes) & set(old_codes)
    assert (await _mfa_status(web, owner)).recovery_codes_left == 10
    await expect_problem(await _verify(web, await _challenge(web, owner), old_codes[0]), 401)
    await tokens_of(await _verify(web, await _challenge(web, owner), new_codes[0]))


async def test_regenerating_recovery_codes_with_a_wrong_code_answers_400_and_keeps_the_old_ones(
    client, web, clock
):
    owner = await open_account(client)
    app, old_codes = await _enable_mfa(web, owner, clock)

    response = await web.post(
        "/v1/auth/mfa/recovery-codes", json={"code": app.wrong_code()}, headers=owner.auth
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"code"}
    await tokens_of(await _verify(web, await _challenge(web, owner), old_codes[0]))


async def test_repeated_wrong_mfa_codes_end_in_429_with_retry_after_and_ratelimit_headers(client, web, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(web, owner, clock)
    clock.advance(STEP)
    challenge = await _challenge(web, owner)

    failures = [await _verify(web, challenge, app.wrong_code()) for _ in range(5)]
    blocked = await _verify(web, challenge, app.wrong_code())
    right_code_too = await _verify(web, challenge, app.code_at())

    for failure in failures:
        await expect_problem(failure, 401, "unauthenticated")
    await expect_problem(blocked, 429, "too_many_attempts")
    headers = _rate_limited(blocked)
    assert headers["RateLimit-Limit"] == 5
    assert headers["Retry-After"] <= 60
    await expect_problem(right_code_too, 429, "too_many_attempts")
    _rate_limited(right_code_too)


async def test_mfa_guesses_from_other_addresses_still_count_against_the_account(client, clock):
    owner = await open_account(client)
    app, _ = await _enable_mfa(Caller.fresh(client), owner, clock)
    clock.advance(STEP)
    for _ in range(5):
        guesser = Caller.fresh(client)
        await expect_problem(await _verify(guesser, await _challenge(guesser, owner), app.wrong_code()), 401)
    elsewhere = Caller.fresh(client)

    blocked = await _verify(elsewhere, await _challenge(elsewhere, owner), app.code_at())

    await expect_problem(blocked, 429, "too_many_attempts")
    _rate_limited(blocked)


# --- brute-force protection of sign-in --------------------------------------------------------


async def test_repeated_failed_sign_ins_end_in_429_with_retry_after_and_ratelimit_headers(client, web):
    owner = await open_account(client)

    failures = [await web.login(owner.email, "not the password " + str(n)) for n in range(5)]
    blocked = await web.login(owner.email, "not the password 5")

    for failure in failures:
        await expect_problem(failure, 401, "unauthenticated")
    await expect_problem(blocked, 429, "too_many_attempts")
    headers = _rate_limited(blocked)
    assert headers["RateLimit-Limit"] == 5
    assert headers["Retry-After"] <= 60


async def test_the_right_password_during_a_lockout_is_still_refused_with_429(client, web):
    owner = await open_account(client)
    for n in range(5):
        await web.login(owner.email, f"not the password {n}")

    response = await web.login(owner.email, owner.password)

    await expect_problem(response, 429, "too_many_attempts")
    _rate_limited(response)
    assert "access_token" not in await response.get_json()


async def test_a_lockout_of_one_account_does_not_hold_back_another_account_signing_in_from_elsewhere(
    client, web
):
    owner = await open_account(client)
    neighbour = await open_account(client)
    for n in range(6):
        await web.login(owner.email, f"not the password {n}")

    await tokens_of(await Caller.fresh(client).login(neighbour.email, neighbour.password))


async def _failure_sequence(
    web: Caller, email: str, attempts: int
) -> list[tuple[int, bytes, tuple[str, ...]]]:
    """Each answer's status, its body with the request id blanked out, and its rate-limit headers."""
    seen = []
    for n in range(attempts):
        response = await web.login(email, f"not the password {n}")
        raw = await response.get_data()
        request_id = response.headers["X-Request-ID"].encode()
        headers = tuple(response.headers.get(name, "") for name in RATE_LIMIT_HEADERS)
        seen.append((response.status_code, raw.replace(request_id, b"<request-id>"), headers))
    return seen


async def test_an_unknown_account_gets_exactly_the_same_statuses_bodies_and_headers_as_a_known_one(
    client, wall_clock
):
    owner = await open_account(client)
    wall_clock.freeze()  # so the seconds announced in both sequences are the same

    known = await _failure_sequence(Caller.fresh(client), owner.email, 7)
    unknown = await _failure_sequence(Caller.fresh(client), unique_email("nobody"), 7)

    assert [status for status, _, _ in known] == [401] * 5 + [429] * 2
    assert known == unknown


async def test_a_long_lockout_is_shown_to_admins_and_the_mailed_link_lifts_it(client, database, wall_clock):
    owner = await open_account(client)
    admin_view = Caller.fresh(client)
    member_email = unique_email("member")
    member_password = new_password()
    invited = await admin_view.post(
        "/v1/team/invitations", json={"email": member_email, "role": "member"}, headers=owner.auth
    )
    assert invited.status_code == 201, await invited.get_data()
    accepted = await admin_view.post(
        "/v1/auth/invitations/accept",
        json={
            "token": mailed_token(database.owner_url, member_email, INVITATION_PAGE),
            "name": "Mo Member",
            "password": member_password,
        },
    )
    member_id = (await tokens_of(accepted))["user_id"]
    attacker = Caller.fresh(client)

    # Five guesses, a pause past the short window, five more: the long tier is exhausted.
    for n in range(5):
        await expect_problem(await attacker.login(member_email, f"guess {n}"), 401)
    wall_clock.advance(61)
    for n in range(5, 10):
        await expect_problem(await attacker.login(member_email, f"guess {n}"), 401)
    right_password = await Caller.fresh(client).login(member_email, member_password)

    await expect_problem(right_password, 429, "too_many_attempts")
    assert _rate_limited(right_password)["Retry-After"] > 60  # the long tier binds, not the short one
    members = await _members(admin_view, owner)
    assert members[member_id]["locked_for_seconds"] > 60
    assert members[owner.user_id]["locked_for_seconds"] == 0
    unlock_mails = mails_to(database.owner_url, member_email, UNLOCK_PAGE)
    assert len(unlock_mails) == 1

    unlocked = await Caller.fresh(client).post("/v1/auth/unlock", json={"token": token_in(unlock_mails[0])})

    assert unlocked.status_code == 204
    assert (await _members(admin_view, owner))[member_id]["locked_for_seconds"] == 0
    await tokens_of(await Caller.fresh(client).login(member_email, member_password))


async def test_an_unlock_token_works_once_and_a_garbage_one_is_400(client, database, wall_clock):
    owner = await open_account(client)
    attacker = Caller.fresh(client)
    for n in range(5):
        await attacker.login(owner.email, f"guess {n}")
    wall_clock.advance(61)
    for n in range(5, 10):
        await attacker.login(owner.email, f"guess {n}")
    token = mailed_token(database.owner_url, owner.email, UNLOCK_PAGE)
    web = Caller.fresh(client)
    assert (await web.post("/v1/auth/unlock", json={"token": token})).status_code == 204

    again = await web.post("/v1/auth/unlock", json={"token": token})
    garbage = await web.post("/v1/auth/unlock", json={"token": "sbt_" + uuid.uuid4().hex})

    assert error_fields(await expect_problem(again, 400, "validation_error")) == {"token"}
    assert error_fields(await expect_problem(garbage, 400, "validation_error")) == {"token"}


async def test_a_short_slowdown_mails_no_unlock_link(client, database, web):
    owner = await open_account(client)

    for n in range(6):
        await web.login(owner.email, f"guess {n}")

    assert mails_to(database.owner_url, owner.email, UNLOCK_PAGE) == []


# --- the password policy at sign-up -----------------------------------------------------------


def _tenant_count(owner_url: str, tenant_name: str) -> int:
    with psycopg.connect(owner_url) as connection:
        row = connection.execute("SELECT count(*) FROM tenants WHERE name = %s", (tenant_name,)).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    "weak",
    [
        pytest.param(lambda email, name: "tidal-rk-9q", id="too-short"),
        pytest.param(lambda email, name: "q7" + uuid.uuid4().hex * 4, id="too-long"),
        pytest.param(lambda email, name: "x" * 600, id="far-too-long"),
        pytest.param(lambda email, name: "Password123!", id="common"),
        pytest.param(lambda email, name: "qwertyuiop1234", id="keyboard-walk"),
        pytest.param(lambda email, name: email.split("@")[0] + "!2024", id="the-email"),
        pytest.param(lambda email, name: email, id="the-whole-email"),
        pytest.param(lambda email, name: name.replace(" ", "") + "1987!", id="the-name"),
    ],
)
async def test_a_weak_password_at_sign_up_answers_400_on_the_password_field_and_creates_nothing(
    client, database, weak
):
    email = f"marguerite.quillfeather{uuid.uuid4().hex[:6]}@example.com"
    name = "Marguerite Quillfeather"
    tenant_name = f"Quill Works {uuid.uuid4().hex[:8]}"
    password = weak(email, name)

    response = await register(client, email=email, password=password, name=name, tenant_name=tenant_name)

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"password"}
    assert password not in (await response.get_data(as_text=True))
    assert _tenant_count(database.owner_url, tenant_name) == 0
    assert mails_to(database.owner_url, email) == []
    again = await register(client, email=email, password=new_password(), name=name, tenant_name=tenant_name)
    assert again.status_code == 201, await again.get_data()
    assert _tenant_count(database.owner_url, tenant_name) == 1


async def test_a_password_of_129_characters_is_refused_and_one_of_128_is_accepted(client):
    too_long = await register(client, password=("q7-" + uuid.uuid4().hex * 4)[:129])
    longest = await register(client, password=("q7-" + uuid.uuid4().hex * 4)[:128])

    assert error_fields(await expect_problem(too_long, 400, "validation_error")) == {"password"}
    assert longest.status_code == 201, await longest.get_data()


# --- email verification -----------------------------------------------------------------------


async def test_registration_mails_a_verification_link_that_verifies_the_address_once(client, database, web):
    owner = await open_account(client)
    assert not (await _members(web, owner))[owner.user_id]["email_verified"]
    token = mailed_token(database.owner_url, owner.email, VERIFY_PAGE)

    verified = await web.post("/v1/auth/email/verify", json={"token": token})
    again = await web.post("/v1/auth/email/verify", json={"token": token})

    assert verified.status_code == 204
    assert (await _members(web, owner))[owner.user_id]["email_verified"] is True
    assert error_fields(await expect_problem(again, 400, "validation_error")) == {"token"}


async def test_a_garbage_verification_token_answers_400(client, web):
    response = await web.post("/v1/auth/email/verify", json={"token": "sbt_" + uuid.uuid4().hex})

    assert error_fields(await expect_problem(response, 400, "validation_error")) == {"token"}


async def test_a_reset_token_is_not_a_verification_token(client, database, web):
    owner = await open_account(client)
    await web.post("/v1/auth/password/forgot", json={"email": owner.email})
    reset_token = mailed_token(database.owner_url, owner.email, RESET_PAGE)

    response = await web.post("/v1/auth/email/verify", json={"token": reset_token})

    await expect_problem(response, 400, "validation_error")
    assert not (await _members(web, owner))[owner.user_id]["email_verified"]
    assert (
        await web.post("/v1/auth/password/reset", json={"token": reset_token, "password": new_password()})
    ).status_code == 204


async def test_asking_for_a_new_verification_link_mails_one_and_the_earlier_link_stops_working(
    client, database, web
):
    owner = await open_account(client)
    first = mailed_token(database.owner_url, owner.email, VERIFY_PAGE)

    response = await web.post("/v1/auth/email/verification", headers=owner.auth)

    assert response.status_code == 202
    second = mailed_token(database.owner_url, owner.email, VERIFY_PAGE)
    assert second != first
    await expect_problem(await web.post("/v1/auth/email/verify", json={"token": first}), 400)
    assert (await web.post("/v1/auth/email/verify", json={"token": second})).status_code == 204
    assert (await web.post("/v1/auth/email/verification", headers=owner.auth)).status_code == 204


# --- password reset ---------------------------------------------------------------------------


async def test_forgot_password_answers_202_for_known_and_unknown_addresses_alike(client, database, web):
    owner = await open_account(client)
    nobody = unique_email("nobody")

    known = await web.post("/v1/auth/password/forgot", json={"email": owner.email})
    unknown = await web.post("/v1/auth/password/forgot", json={"email": nobody})

    assert (known.status_code, unknown.status_code) == (202, 202)
    assert await known.get_data() == await unknown.get_data()
    assert len(mails_to(database.owner_url, owner.email, RESET_PAGE)) == 1
    assert mails_to(database.owner_url, nobody) == []


async def test_a_password_reset_ends_every_session_and_only_the_new_password_works(client, database, web):
    owner = await open_account(client)
    second = await tokens_of(await web.login(owner.email, owner.password))
    await web.post("/v1/auth/password/forgot", json={"email": owner.email})
    token = mailed_token(database.owner_url, owner.email, RESET_PAGE)
    password = new_password()

    response = await web.post("/v1/auth/password/reset", json={"token": token, "password": password})

    assert response.status_code == 204
    await _refused_everywhere(web, owner.access_token, owner.refresh_token)
    await _refused_everywhere(web, second["access_token"], second["refresh_token"])
    await expect_problem(await web.login(owner.email, owner.password), 401)
    await tokens_of(await web.login(owner.email, password))


async def test_a_reset_token_works_once(client, database, web):
    owner = await open_account(client)
    await web.post("/v1/auth/password/forgot", json={"email": owner.email})
    token = mailed_token(database.owner_url, owner.email, RESET_PAGE)
    password = new_password()
    assert (
        await web.post("/v1/auth/password/reset", json={"token": token, "password": password})
    ).status_code == 204

    again = await web.post("/v1/auth/password/reset", json={"token": token, "password": new_password()})

    assert error_fields(await expect_problem(again, 400, "validation_error")) == {"token"}
    await tokens_of(await web.login(owner.email, password))


async def test_an_earlier_reset_token_stops_working_once_a_newer_one_is_mailed(client, database, web):
    owner = await open_account(client)
    await web.post("/v1/auth/password/forgot", json={"email": owner.email})
    earlier = mailed_token(database.owner_url, owner.email, RESET_PAGE)
    await web.post("/v1/auth/password/forgot", json={"email": owner.email})
    newer = mailed_token(database.owner_url, owner.email, RESET_PAGE)
    assert newer != earlier

    stale = await web.post("/v1/auth/password/reset", json={"token": earlier, "password": new_password()})
    fresh = await web.post("/v1/auth/password/reset", json={"token": newer, "password": new_password()})

    assert error_fields(await expect_problem(stale, 400, "validation_error")) == {"token"}
    assert fresh.status_code == 204


async def test_a_weak_new_password_at_reset_answers_400_and_leaves_the_token_usable(client, database, web):
    owner = await open_account(client)
    await web.post("/v1/auth/password/forgot", json={"email": owner.email})
    token = mailed_token(database.owner_url, owner.email, RESET_PAGE)

    weak = await web.post("/v1/auth/password/reset", json={"token": token, "password": "Password123!"})

    assert error_fields(await expect_problem(weak, 400, "validation_error")) == {"password"}
    assert await _still_works(web, owner.access_token)
    await tokens_of(await web.login(owner.email, owner.password))
    assert (
        await web.post("/v1/auth/password/reset", json={"token": token, "password": new_password()})
    ).status_code == 204


async def test_a_garbage_reset_token_answers_400(client, web):
    response = await web.post(
        "/v1/auth/password/reset", json={"token": "sbt_" + uuid.uuid4().hex, "password": new_password()}
    )

    assert error_fields(await expect_problem(response, 400, "validation_error")) == {"token"}


async def test_a_password_reset_lifts_a_sign_in_lockout(client, database, web):
    owner = await open_account(client)
    for n in range(6):
        await web.login(owner.email, f"guess {n}")
    await expect_problem(await web.login(owner.email, owner.password), 429)
    await web.post("/v1/auth/password/forgot", json={"email": owner.email})
    password = new_password()

    reset = await web.post(
        "/v1/auth/password/reset",
        json={"token": mailed_token(database.owner_url, owner.email, RESET_PAGE), "password": password},
    )

    assert reset.status_code == 204
    await tokens_of(await Caller.fresh(client).login(owner.email, password))


# --- sessions ---------------------------------------------------------------------------------


async def test_sessions_are_listed_with_their_address_and_user_agent_and_the_current_one_marked(client):
    owner = await open_account(client)
    laptop = Caller.fresh(client, user_agent="Mozilla/5.0 (Laptop) Firefox/128.0")
    phone = Caller.fresh(client, user_agent="Switchboard-iOS/3.2")
    on_laptop = await tokens_of(await laptop.login(owner.email, owner.password))
    on_phone = await tokens_of(await phone.login(owner.email, owner.password))

    listed = {item["id"]: item for item in await _sessions(laptop, on_laptop["access_token"])}

    laptop_session = listed[session_of(on_laptop["access_token"])]
    phone_session = listed[session_of(on_phone["access_token"])]
    assert (laptop_session["ip"], laptop_session["user_agent"]) == (laptop.ip, laptop.user_agent)
    assert (phone_session["ip"], phone_session["user_agent"]) == (phone.ip, phone.user_agent)
    assert laptop_session["current"] is True
    assert [item["id"] for item in listed.values() if item["current"]] == [laptop_session["id"]]
    seen_from_phone = await _sessions(phone, on_phone["access_token"])
    assert [item["id"] for item in seen_from_phone if item["current"]] == [phone_session["id"]]


async def test_revoking_a_session_stops_its_access_and_refresh_tokens_at_once(client, web):
    owner = await open_account(client)
    other = await tokens_of(await web.login(owner.email, owner.password))

    response = await web.delete(f"/v1/auth/sessions/{session_of(other['access_token'])}", headers=owner.auth)

    assert response.status_code == 204
    await _refused_everywhere(web, other["access_token"], other["refresh_token"])
    assert await _still_works(web, owner.access_token)
    listed = [item["id"] for item in await _sessions(web, owner.access_token)]
    assert session_of(other["access_token"]) not in listed


async def test_revoking_a_session_of_another_user_answers_404_and_leaves_it_alone(client, web):
    owner = await open_account(client)
    stranger = await open_account(client)

    response = await web.delete(f"/v1/auth/sessions/{session_of(stranger.access_token)}", headers=owner.auth)

    await expect_problem(response, 404, "not_found")
    assert await _still_works(web, stranger.access_token)


async def test_revoking_all_other_sessions_keeps_the_current_one(client, web):
    owner = await open_account(client)
    others = [await tokens_of(await web.login(owner.email, owner.password)) for _ in range(2)]
    current = await tokens_of(await web.login(owner.email, owner.password))

    response = await web.delete("/v1/auth/sessions", headers=bearer(current["access_token"]))

    assert response.status_code == 204
    await _refused_everywhere(web, owner.access_token, owner.refresh_token)
    for other in others:
        await _refused_everywhere(web, other["access_token"], other["refresh_token"])
    assert await _still_works(web, current["access_token"])
    await tokens_of(await web.refresh(current["refresh_token"]))
    listed = await _sessions(web, current["access_token"])
    assert [(item["id"], item["current"]) for item in listed] == [(session_of(current["access_token"]), True)]


# --- password change --------------------------------------------------------------------------


async def test_changing_the_password_with_a_wrong_current_password_answers_400_and_changes_nothing(
    client, web
):
    owner = await open_account(client)

    response = await web.post(
        "/v1/auth/password",
        json={"current_password": owner.password + "x", "new_password": new_password()},
        headers=owner.auth,
    )

    assert error_fields(await expect_problem(response, 400, "validation_error")) == {"current_password"}
    await tokens_of(await web.login(owner.email, owner.password))


async def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(client, web):
    owner = await open_account(client)
    other = await tokens_of(await web.login(owner.email, owner.password))
    password = new_password()

    response = await web.post(
        "/v1/auth/password",
        json={"current_password": owner.password, "new_password": password},
        headers=owner.auth,
    )

    assert response.status_code == 204
    await _refused_everywhere(web, other["access_token"], other["refresh_token"])
    assert await _still_works(web, owner.access_token)
    await tokens_of(await web.refresh(owner.refresh_token))
    await expect_problem(await web.login(owner.email, owner.password), 401)
    await tokens_of(await web.login(owner.email, password))


async def test_changing_to_a_weak_password_answers_400_and_keeps_the_old_one(client, web):
    owner = await open_account(client)

    response = await web.post(
        "/v1/auth/password",
        json={"current_password": owner.password, "new_password": "Password123!"},
        headers=owner.auth,
    )

    assert error_fields(await expect_problem(response, 400, "validation_error")) == {"new_password"}
    await tokens_of(await web.login(owner.email, owner.password))

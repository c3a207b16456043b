"""Time-based one-time passwords (RFC 6238) with pyotp, and their enrolment QR code with segno."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pyotp
import segno

# One step either side: a phone clock up to 30 seconds off still works, and no more.
DRIFT_STEPS = 1


class PyotpOneTimePasswords:
    interval_seconds = 30

    def new_secret(self) -> str:
        return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends

    def provisioning_uri(self, secret: str, account: str, issuer: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)

    def qr_svg(self, uri: str) -> str:
        buffer = io.BytesIO()  # segno writes SVG as bytes
        segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
        return buffer.getvalue().decode()

    def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            return None
        totp = pyotp.TOTP(secret)
        interval = timedelta(seconds=self.interval_seconds)
        # Newest step first, so a code valid for two steps counts as the later one.
        for offset in range(DRIFT_STEPS, -DRIFT_STEPS - 1, -1):
            moment = at + offset * interval
            if totp.verify(code, for_time=moment):
                return int(totp.timecode(moment))
        return None

    def code_at(self, secret: str, at: datetime) -> str:
        """The code an authenticator app shows at ``at`` (for tests and the demo)."""
        return pyotp.TOTP(secret).at(at)

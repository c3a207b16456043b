"""How many failed attempts a key (an account, a client address) may make, and how fast.

A policy is a ladder of tiers. The short tier slows a guesser down (a few tries, then a wait of
up to a minute); the long tier locks the key for a while once it is exhausted. Counting is the
rate-limit library's work, behind the ``AttemptThrottle`` port; what the tiers are is ours.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    attempts: int
    per_seconds: int


@dataclass(frozen=True)
class ThrottlePolicy:
    name: str
    tiers: tuple[Tier, ...]  # shortest window first; exhausting the last one is a lockout

    @property
    def lockout(self) -> Tier:
        return self.tiers[-1]


@dataclass(frozen=True)
class ThrottleStatus:
    retry_after_seconds: int  # 0: an attempt is allowed now
    locked_out: bool  # the last (longest) tier is exhausted
    limit: int  # attempts allowed in the tier that binds now
    remaining: int  # attempts left in that tier

    @property
    def allowed(self) -> bool:
        return self.retry_after_seconds == 0


SIGN_IN_PER_ACCOUNT = ThrottlePolicy("sign_in_account", (Tier(5, 60), Tier(10, 900)))
SIGN_IN_PER_ADDRESS = ThrottlePolicy("sign_in_address", (Tier(30, 60), Tier(200, 3600)))
MFA_PER_ACCOUNT = ThrottlePolicy("mfa_account", (Tier(5, 60), Tier(10, 900)))
# Requests that send mail (reset, verification, unlock) and the redemption of their tokens.
EMAIL_TOKENS_PER_ACCOUNT = ThrottlePolicy("email_tokens_account", (Tier(3, 60), Tier(10, 3600)))
EMAIL_TOKENS_PER_ADDRESS = ThrottlePolicy("email_tokens_address", (Tier(20, 60), Tier(100, 3600)))

"""Typed domain errors.

Use cases raise these; the HTTP layer maps each class to one status and problem type in one
table (entrypoints/http/errors.py). A message here may reach a client, so it never carries
internal detail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class DomainError(Exception):
    """Base of every error a use case raises on purpose."""

    code = "domain_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """The object does not exist, or belongs to another tenant (indistinguishable on purpose)."""

    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (a taken email, a concurrent change)."""

    code = "conflict"

    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(detail)
        self.code = code


class PreconditionFailed(DomainError):
    """An If-Match version no longer matches the stored one."""

    code = "precondition_failed"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class InvalidInput(DomainError):
    """Input that is well-formed but breaks a domain rule."""

    code = "validation_error"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def single(cls, field: str, message: str) -> InvalidInput:
        return cls([FieldError(field, message)])


class AuthenticationFailed(DomainError):
    """Credentials or a token were not accepted. The detail never says which part was wrong."""

    code = "unauthenticated"


class PermissionDenied(DomainError):
    """The principal is known but its role does not allow the action."""

    code = "forbidden"


class TooManyAttempts(DomainError):
    """Too many failed attempts for an account or an address: wait ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, detail: str, retry_after: int, limit: int, remaining: int = 0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.limit = limit
        self.remaining = remaining


def gather(checks: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Run every check, then fail once with all the problems found, or return all results."""
    results: dict[str, T] = {}
    problems: list[FieldError] = []
    for key, check in checks.items():
        try:
            results[key] = check()
        except InvalidInput as error:
            problems.extend(error.errors)
    if problems:
        raise InvalidInput(problems)
    return results

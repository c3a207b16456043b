"""SQLAlchemy builds the statements; psycopg executes them.

Each statement is compiled once to psycopg's ``%(name)s`` parameter style and kept as text, so a
request pays for neither the ORM nor statement compilation (STACK-NOTES.md measures the ORM
session path at about three times psycopg's cost per request).
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement

_DIALECT = PGDialect_psycopg()


def compile_sql(statement: ClauseElement) -> str:
    return str(statement.compile(dialect=_DIALECT))

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from switchboard.core.errors import InvalidInput
from switchboard.core.pagination import PageRequest, Position, page_from_overfetch
from switchboard.entrypoints.http.errors import ApiError
from switchboard.entrypoints.http.pagination import decode_cursor, encode_cursor


def test_page_size_must_be_between_one_and_a_hundred():
    for bad in (0, 101, -1):
        with pytest.raises(InvalidInput):
            PageRequest(limit=bad)


def test_the_extra_row_fetched_only_signals_that_more_exist():
    rows = [1, 2, 3, 4]
    page = page_from_overfetch(rows, 3, lambda n: Position(datetime(2026, 1, n, tzinfo=UTC), uuid4()))
    assert page.items == [1, 2, 3]
    assert page.has_more
    assert page.next_position is not None
    assert page.next_position.created_at.day == 3

    last = page_from_overfetch(rows[:2], 3, lambda n: Position(datetime(2026, 1, n, tzinfo=UTC), uuid4()))
    assert not last.has_more
    assert last.next_position is None


def test_a_cursor_round_trips_to_the_same_position():
    position = Position(datetime(2026, 11, 22, 9, 30, 1, 123456, tzinfo=UTC), uuid4())
    assert decode_cursor(encode_cursor(position)) == position


@pytest.mark.parametrize("bad", ["", "!!!", "bm90IGpzb24", "WyJ4IiwgInkiXQ", "WyIyMDI2LTAxLTAxIiwiYWJjIl0"])
def test_cursors_that_were_not_issued_by_the_api_are_refused(bad):
    with pytest.raises(ApiError) as raised:
        decode_cursor(bad)
    assert raised.value.status == 400
    assert raised.value.code == "invalid_cursor"

"""A delivered batch that is not JSON, or nests deeper than any batch does, is refused
whole with 400: never a RecursionError, neither while parsing nor when the stored records
would be encoded again."""

from __future__ import annotations

import pytest

from medmij_stack.collector.batch import BatchRefused, parse_batch


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"records": ' + b"[" * 500 + b"]" * 500 + b"}", b"\xff\xfe"],
)
def test_a_body_nested_too_deeply_or_not_json_is_refused_as_a_batch(body: bytes) -> None:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(body, admitted={"pgo.localhost"}, locations={}, max_records=10)
    assert refused.value.status == 400

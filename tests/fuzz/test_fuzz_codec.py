"""Fuzzing streams/codec.py: ``load_object`` and ``decode`` of every wire model read from
a topic give a record or a dead-letter reason, never an exception; a decoded record
encodes again; every dead letter carries the original bytes back."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import BaseModel

from processors.records import ActionResult, Decision, Signal, SilenceRecord
from streams.codec import DEFAULT_MAX_RECORD_BYTES, Rejected, decode, encode, load_object
from tests.hypothesis_profiles import ci_examples

from .properties import assert_rejected_well
from .strategies import (
    ACTION_RESULT,
    DECISION,
    HOSTILE_DOCUMENTS,
    SIGNAL,
    SILENCE,
    byte_damage,
    mutated,
    padded_to,
    to_json,
)

# The models decode() reads from topics: the decision tier's signals, and the decision
# views' results, silences and decisions (streams/decision_views.py).
WIRE_MODELS: dict[type[BaseModel], st.SearchStrategy[dict[str, Any]]] = {
    Signal: SIGNAL,
    ActionResult: ACTION_RESULT,
    SilenceRecord: SILENCE,
    Decision: DECISION,
}


def wire_bytes(valid: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        mutated(valid).map(to_json),
        mutated(valid).map(to_json),
        valid.map(to_json),
        valid.map(to_json).flatmap(byte_damage),
        HOSTILE_DOCUMENTS,
    )


@given(st.one_of(st.none(), HOSTILE_DOCUMENTS, *(wire_bytes(v) for v in WIRE_MODELS.values())))
def test_load_object_gives_an_object_or_a_reason(raw: bytes | None) -> None:
    data = load_object(raw)
    if isinstance(data, Rejected):
        assert_rejected_well(data, raw)
    else:
        assert isinstance(data, dict)


@pytest.mark.parametrize("model", list(WIRE_MODELS), ids=lambda m: m.__name__)
@given(data=st.data())
def test_decode_gives_a_record_that_encodes_or_a_reason(
    model: type[BaseModel], data: st.DataObject
) -> None:
    raw = data.draw(wire_bytes(WIRE_MODELS[model]), label="raw")
    decoded = decode(raw, model)
    if isinstance(decoded, Rejected):
        assert_rejected_well(decoded, raw)
        return
    assert isinstance(decoded, model)
    again = decode(encode(decoded), model)  # what we decode, we can write and read again
    assert isinstance(again, model), again


@ci_examples(6)
@given(
    size=st.sampled_from([-2, -1, 0, 1, 2]).map(lambda d: DEFAULT_MAX_RECORD_BYTES + d),
    valid=SIGNAL,
)
def test_a_record_at_the_size_limit_is_decoded_and_one_past_it_is_too_large(
    size: int, valid: dict[str, Any]
) -> None:
    # SIGNAL may carry a record with Infinity in it: not a valid signal at any size.
    assume(isinstance(decode(to_json(valid), Signal), Signal))
    raw = padded_to(valid, "id", size)
    assert len(raw) == size
    decoded = decode(raw, Signal)
    if size > DEFAULT_MAX_RECORD_BYTES:
        assert isinstance(decoded, Rejected) and decoded.reason == "too_large"
        assert_rejected_well(decoded, raw)
    else:
        assert isinstance(decoded, Signal), decoded
        assert orjson.loads(encode(decoded))["id"] == decoded.id

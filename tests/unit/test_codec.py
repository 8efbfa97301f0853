"""The record codec: what goes in comes out, and every kind of damage is caught with its key."""

from __future__ import annotations

import struct
import zlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.codec import HEADER_SIZE, MAGIC, SCHEMA_VERSION, Schema, decode, encode
from storage.errors import CorruptRecord

KEY = "g/G1/l/L2"
BODY = {"state": "PARTIALLY_FILLED", "filled": 65, "price": 101.25, "tags": ["a", "b"], "raw": b"\x00\xff"}

# Values msgpack carries unchanged: no tuples (they come back as lists), no NaN (NaN != NaN),
# integers within msgpack's 64-bit range.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text() | st.integers(-(2**31), 2**31), inner)
    ),
    max_leaves=30,
)
bodies = st.dictionaries(st.text(), values, max_size=8)


def test_round_trip_of_a_leg_snapshot() -> None:
    assert decode(KEY, encode(BODY)) == BODY


@given(bodies)
def test_round_trip_of_any_msgpack_value(body: dict[str, object]) -> None:
    assert decode(KEY, encode(body)) == body


def test_record_starts_with_magic_and_current_version() -> None:
    raw = encode(BODY)
    assert raw[:2] == MAGIC
    assert raw[2] == SCHEMA_VERSION


@given(st.data())
def test_any_flipped_bit_is_detected_with_the_key(data: st.DataObject) -> None:
    raw = bytearray(encode(BODY))
    position = data.draw(st.integers(0, len(raw) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    raw[position] ^= 1 << bit
    with pytest.raises(CorruptRecord) as caught:
        decode(KEY, bytes(raw))
    assert caught.value.key == KEY


@pytest.mark.parametrize("length", range(len(encode(BODY))))
def test_every_truncation_is_detected(length: int) -> None:
    with pytest.raises(CorruptRecord) as caught:
        decode(KEY.encode(), encode(BODY)[:length])
    assert caught.value.key == KEY
    assert "truncated" in caught.value.reason or "checksum" in caught.value.reason


def test_a_flipped_payload_byte_is_a_checksum_mismatch() -> None:
    raw = bytearray(encode(BODY))
    raw[HEADER_SIZE + 3] ^= 0x40
    with pytest.raises(CorruptRecord, match="checksum") as caught:
        decode(KEY, bytes(raw), table="snapshots")
    assert caught.value.table == "snapshots"
    assert "snapshots:g/G1/l/L2" in str(caught.value)


def test_wrong_magic_is_named() -> None:
    raw = b"XX" + encode(BODY)[2:]
    with pytest.raises(CorruptRecord, match="magic") as caught:
        decode(KEY, raw)
    assert caught.value.key == KEY


def test_unknown_future_version_is_refused_not_guessed() -> None:
    newer = encode(BODY, Schema(version=SCHEMA_VERSION + 1))
    with pytest.raises(CorruptRecord, match="unknown schema version") as caught:
        decode(KEY, newer)
    assert caught.value.key == KEY


def test_older_version_is_upgraded_step_by_step() -> None:
    v1 = encode({"qty": 65})
    schema = Schema(
        version=3,
        upgrades={1: lambda body: {**body, "lots": body["qty"] // 65}, 2: lambda body: {**body, "v3": True}},
    )
    assert decode(KEY, v1, schema) == {"qty": 65, "lots": 1, "v3": True}


def test_missing_upgrade_step_is_reported_not_skipped() -> None:
    schema = Schema(version=3, upgrades={2: lambda body: body})
    with pytest.raises(CorruptRecord, match="no upgrade from schema version 1"):
        decode(KEY, encode({"qty": 65}), schema)


def test_a_version_byte_flipped_to_another_valid_version_fails_the_checksum() -> None:
    # The checksum covers the version, so an intact payload is not sent through the wrong upgrade.
    schema = Schema(version=2, upgrades={1: lambda body: {"upgraded": body}})
    raw = bytearray(encode(BODY, schema))
    raw[2] = 1
    with pytest.raises(CorruptRecord, match="checksum"):
        decode(KEY, bytes(raw), schema)


def _with_valid_header(payload: bytes) -> bytes:
    version = bytes((SCHEMA_VERSION,))
    return struct.pack(">2sBI", MAGIC, SCHEMA_VERSION, zlib.crc32(payload, zlib.crc32(version))) + payload


def test_well_checksummed_payload_that_is_not_a_map_is_refused() -> None:
    with pytest.raises(CorruptRecord, match="not a map"):
        decode(KEY, _with_valid_header(msgpack.packb([1, 2, 3])))


def test_well_checksummed_garbage_msgpack_is_refused() -> None:
    with pytest.raises(CorruptRecord, match="undecodable msgpack"):
        decode(KEY, _with_valid_header(b"\xc1"))  # 0xc1 is never used in msgpack


@given(st.binary(max_size=64))
def test_any_payload_decodes_to_a_map_or_raises_corrupt_record(payload: bytes) -> None:
    try:
        body = decode(KEY, _with_valid_header(payload))
    except CorruptRecord as exc:
        assert exc.key == KEY
    else:
        assert isinstance(body, dict)


def test_a_non_mapping_body_is_refused_at_encode() -> None:
    with pytest.raises(TypeError):
        encode([1, 2])  # type: ignore[arg-type]


def test_schema_version_must_fit_its_byte() -> None:
    with pytest.raises(ValueError):
        Schema(version=256)


def test_corrupt_record_survives_pickling_with_key_and_table() -> None:
    import pickle

    original = CorruptRecord(b"g/G1", "checksum mismatch", table="snapshots")
    copy = pickle.loads(pickle.dumps(original))
    assert (copy.key, copy.reason, copy.table) == ("g/G1", "checksum mismatch", "snapshots")

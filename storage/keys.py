"""Key layout of the snapshot table, and the byte forms of every table's keys.

Snapshot keys are paths, so one prefix scan finds everything under an owner:

    g/{group_id}                  the order group
    g/{group_id}/l/{leg_id}       its legs
    g/{group_id}/c/{child_id}     its child orders
    risk/killswitch, ...          other actors use their own top-level prefix

Ids may not contain "/" (a group "G1" must never scan up "G1/x/...") nor NUL, which separates the
parts of composite keys. Journal keys are the stream name, NUL, then the big-endian sequence number,
so a cursor walks one stream in sequence order and stream "g1" never sees stream "g10".
"""

from __future__ import annotations

import struct

# LMDB's compiled-in default limit (mdb_env_get_maxkeysize); longer keys fail at put time.
MAX_KEY_BYTES = 511
_SEQ = struct.Struct(">Q")
_SEP = b"\x00"

GROUP_PREFIX = "g/"


def group_key(group_id: str) -> str:
    return GROUP_PREFIX + _id(group_id)


def leg_key(group_id: str, leg_id: str) -> str:
    return f"{leg_prefix(group_id)}{_id(leg_id)}"


def child_key(group_id: str, child_id: str) -> str:
    return f"{child_prefix(group_id)}{_id(child_id)}"


def leg_prefix(group_id: str) -> str:
    return f"{group_key(group_id)}/l/"


def child_prefix(group_id: str) -> str:
    return f"{group_key(group_id)}/c/"


def key_bytes(key: str) -> bytes:
    """The stored form of a str key, refused early if LMDB would refuse it inside the writer."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"a key is a non-empty str, not {key!r}")
    raw = key.encode("utf-8")
    if _SEP in raw:
        raise ValueError(f"key {key!r} contains NUL")
    if len(raw) > MAX_KEY_BYTES:
        raise ValueError(f"key {key[:40]!r}... is {len(raw)} bytes, LMDB allows {MAX_KEY_BYTES}")
    return raw


def journal_key(stream: str, seq: int) -> bytes:
    return journal_prefix(stream) + _SEQ.pack(check_seq(seq))


def journal_prefix(stream: str) -> bytes:
    raw = key_bytes(stream)
    if len(raw) + 1 + _SEQ.size > MAX_KEY_BYTES:
        raise ValueError(f"journal stream {stream[:40]!r}... is too long")
    return raw + _SEP


def journal_seq(key: bytes) -> int:
    seq: int = _SEQ.unpack(key[-_SEQ.size :])[0]
    return seq


def journal_label_of(key: bytes) -> str:
    stream = key[: -_SEQ.size - len(_SEP)].decode("utf-8", errors="backslashreplace")
    return journal_label(stream, journal_seq(key))


def journal_label(stream: str, seq: int) -> str:
    """How a journal record is named in errors: readable, unlike its key bytes."""
    return f"{stream}#{seq}"


def intent_group_key(group_id: str, tag: str) -> bytes:
    raw = intent_group_prefix(group_id) + key_bytes(tag)
    if len(raw) > MAX_KEY_BYTES:
        raise ValueError(f"group id and tag together exceed {MAX_KEY_BYTES} bytes")
    return raw


def intent_group_prefix(group_id: str) -> bytes:
    return key_bytes(group_id) + _SEP


def check_seq(seq: int) -> int:
    # bool is an int in Python; a True sequence number is always a bug upstream.
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 1 << 64:
        raise ValueError(f"a sequence number is an int in [0, 2**64), not {seq!r}")
    return seq


def _id(entity_id: str) -> str:
    if not isinstance(entity_id, str) or not entity_id or "/" in entity_id or "\x00" in entity_id:
        raise ValueError(f"an id is a non-empty str without '/' or NUL, not {entity_id!r}")
    return entity_id

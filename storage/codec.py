"""The record format: every value written to LMDB goes through here.

    offset 0  2 bytes  magic b"LG"
    offset 2  1 byte   schema version
    offset 3  4 bytes  CRC32 (big-endian) over the version byte and the payload
    offset 7  ...      msgpack payload, always a map

The checksum covers the version byte too, so a flipped version cannot send an intact payload
through the wrong upgrade path. A record that fails any check raises `CorruptRecord` with its key:
it is never decoded on a guess.

Older records are upgraded on read by the schema's upgrade steps (version n → n+1), applied in
order, so code above storage only ever sees the current layout.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from storage.errors import CorruptRecord

MAGIC = b"LG"
SCHEMA_VERSION = 1
_HEADER = struct.Struct(">2sBI")
HEADER_SIZE = _HEADER.size

Upgrade = Callable[[dict[Any, Any]], dict[Any, Any]]


@dataclass(frozen=True, slots=True)
class Schema:
    """The version written now, and how to bring each older version one step forward."""

    version: int = SCHEMA_VERSION
    upgrades: Mapping[int, Upgrade] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.version <= 255:
            raise ValueError(f"schema version {self.version} does not fit one byte")


CURRENT = Schema()


def encode(body: Mapping[Any, Any], schema: Schema = CURRENT) -> bytes:
    """A record for `body`; raises TypeError for values msgpack cannot carry."""
    if not isinstance(body, Mapping):
        raise TypeError(f"a record body is a mapping, not {type(body).__name__}")
    payload: bytes = msgpack.packb(dict(body), use_bin_type=True)
    version = bytes((schema.version,))
    return _HEADER.pack(MAGIC, schema.version, zlib.crc32(payload, zlib.crc32(version))) + payload


def decode(key: bytes | str, raw: bytes, schema: Schema = CURRENT, *, table: str = "") -> dict[Any, Any]:
    """The body stored under `key`, upgraded to `schema.version`, or CorruptRecord naming the key."""
    version, payload = _checked_payload(key, bytes(raw), table)
    body = _unpack_map(key, payload, table)
    return _upgrade(key, body, version, schema, table)


def _checked_payload(key: bytes | str, raw: bytes, table: str) -> tuple[int, bytes]:
    if len(raw) < HEADER_SIZE:
        raise CorruptRecord(key, f"truncated: {len(raw)} bytes, header needs {HEADER_SIZE}", table=table)
    magic, version, checksum = _HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise CorruptRecord(key, f"bad magic {magic!r}", table=table)
    payload = raw[HEADER_SIZE:]
    if zlib.crc32(payload, zlib.crc32(bytes((version,)))) != checksum:
        raise CorruptRecord(key, "checksum mismatch (flipped or truncated bytes)", table=table)
    return version, payload


def _unpack_map(key: bytes | str, payload: bytes, table: str) -> dict[Any, Any]:
    try:
        body = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise CorruptRecord(key, f"undecodable msgpack: {exc}", table=table) from exc
    if not isinstance(body, dict):
        raise CorruptRecord(key, f"payload is a {type(body).__name__}, not a map", table=table)
    return body


def _upgrade(
    key: bytes | str, body: dict[Any, Any], version: int, schema: Schema, table: str
) -> dict[Any, Any]:
    if version > schema.version:
        reason = f"unknown schema version {version} (this build reads up to {schema.version})"
        raise CorruptRecord(key, reason, table=table)
    while version < schema.version:
        step = schema.upgrades.get(version)
        if step is None:
            raise CorruptRecord(key, f"no upgrade from schema version {version}", table=table)
        body = step(body)
        version += 1
    return body

"""Kite ticker binary frames: decode them into Ticks, and encode LTP frames for the simulator.

A frame is big-endian: uint16 packet count, then per packet uint16 length and the packet. Every packet
starts with uint32 instrument_token and uint32 last_price; the length says the mode (8 LTP, 28/32 index
quote/full, 44/184 quote/full). Prices are integers scaled by a divisor chosen from the token's low
byte, the exchange segment, exactly as `kiteconnect.KiteTicker._parse_binary` does: encoding with the
same rule is what lets the unmodified client read the simulator's frames.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from domain.messages import Tick

# Kite sends a 1-byte frame when there is nothing to stream, so a live socket is never silent.
HEARTBEAT = b"\x00"

_SEGMENT_CDS = 3
_SEGMENT_BCD = 6
_SEGMENT_NCO = 12
_TICK_LENGTHS = frozenset({8, 28, 32, 44, 184})
_UINT32_MAX = 0xFFFFFFFF


def price_divisor(instrument_token: int) -> float:
    segment = instrument_token & 0xFF
    if segment == _SEGMENT_CDS:
        return 10_000_000.0
    if segment in (_SEGMENT_BCD, _SEGMENT_NCO):
        return 10_000.0
    return 100.0


def split_frame(frame: bytes) -> list[bytes]:
    """The packets of one frame; a heartbeat (shorter than a count) has none."""
    if len(frame) < 2:
        return []
    (count,) = struct.unpack_from(">H", frame, 0)
    packets, offset = [], 2
    for _ in range(count):
        (length,) = struct.unpack_from(">H", frame, offset)
        packets.append(frame[offset + 2 : offset + 2 + length])
        offset += 2 + length
    return packets


def parse_tick_packet(packet: bytes, *, ts: float = 0.0) -> Tick | None:
    """Token and last price of any mode's packet; None for a length Kite does not define."""
    if len(packet) not in _TICK_LENGTHS:
        return None
    token, raw_price = struct.unpack_from(">II", packet, 0)
    return Tick(ts=ts, instrument_token=token, last_price=raw_price / price_divisor(token))


def parse_tick_frame(frame: bytes, *, ts: float = 0.0) -> list[Tick]:
    ticks = (parse_tick_packet(packet, ts=ts) for packet in split_frame(frame))
    return [tick for tick in ticks if tick is not None]


MODE_LTP, MODE_QUOTE, MODE_FULL = "ltp", "quote", "full"
# Packet lengths per mode for tradable instruments; fields the simulator does not model are zeros.
_MODE_LENGTHS = {MODE_LTP: 8, MODE_QUOTE: 44, MODE_FULL: 184}


def encode_tick_packet(instrument_token: int, last_price: float, *, mode: str = MODE_LTP) -> bytes:
    """Token and last price (and zeros for the rest of a quote/full packet)."""
    scaled = round(last_price * price_divisor(instrument_token))  # NaN raises ValueError here
    if not 0 <= scaled <= _UINT32_MAX or not 0 <= instrument_token <= _UINT32_MAX:
        # The client reads unsigned 32-bit integers; anything else would arrive as a wrong price.
        raise ValueError(f"price {last_price} of token {instrument_token} does not fit a Kite tick packet")
    head = struct.pack(">II", instrument_token, scaled)
    return head + bytes(_MODE_LENGTHS[mode] - len(head))


def encode_frame(packets: Iterable[bytes]) -> bytes:
    packets = list(packets)
    body = b"".join(struct.pack(">H", len(packet)) + packet for packet in packets)
    return struct.pack(">H", len(packets)) + body


def encode_ltp_frame(ticks: Iterable[tuple[int, float]]) -> bytes:
    return encode_frame(encode_tick_packet(token, price) for token, price in ticks)

"""BER-TLV and DER length parsing for the card's data files."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tlv", "TlvError", "parse_tlv", "iter_tlv", "der_total_length", "encode_tlv"]


class TlvError(ValueError):
    """Malformed TLV or DER length."""


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int  # the tag bytes as one big-endian int, e.g. 0xDF22, 0xFF20
    value: bytes
    constructed: bool


def _read_tag(buf: bytes, pos: int) -> tuple[int, bool, int]:
    if pos >= len(buf):
        raise TlvError("tag runs past the end")
    first = buf[pos]
    constructed = bool(first & 0x20)
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:  # high-tag-number form
        for _ in range(4):
            if pos >= len(buf):
                raise TlvError("multi-byte tag runs past the end")
            b = buf[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
        else:
            raise TlvError("tag longer than 5 bytes")
    return tag, constructed, pos


def _read_length(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise TlvError("length runs past the end")
    first = buf[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0:
        raise TlvError("indefinite length is not allowed here")
    if count > 3:
        raise TlvError(f"length of {count} bytes is too large for a card file")
    if pos + count > len(buf):
        raise TlvError("length bytes run past the end")
    return int.from_bytes(buf[pos : pos + count], "big"), pos + count


def iter_tlv(buf: bytes, *, allow_padding: bool = True) -> list[Tlv]:
    """Parse a flat sequence of TLVs. Trailing 00/FF padding (unwritten EF space) is ignored."""
    out: list[Tlv] = []
    pos = 0
    while pos < len(buf):
        if allow_padding and buf[pos] in (0x00, 0xFF) and all(b == buf[pos] for b in buf[pos:]):
            break
        tag, constructed, pos = _read_tag(buf, pos)
        length, pos = _read_length(buf, pos)
        if pos + length > len(buf):
            raise TlvError(f"value of tag {tag:X} needs {length} bytes, {len(buf) - pos} left")
        out.append(Tlv(tag, bytes(buf[pos : pos + length]), constructed))
        pos += length
    return out


def parse_tlv(buf: bytes) -> Tlv:
    """Parse exactly one TLV at the start of `buf` (trailing bytes are ignored)."""
    tag, constructed, pos = _read_tag(buf, 0)
    length, pos = _read_length(buf, pos)
    if pos + length > len(buf):
        raise TlvError(f"value of tag {tag:X} needs {length} bytes, {len(buf) - pos} left")
    return Tlv(tag, bytes(buf[pos : pos + length]), constructed)


def der_total_length(header: bytes) -> int:
    """Total size (header + content) of the DER object that starts with `header`.

    Needs the tag and length bytes only: at most 1 + 1 + 3 bytes for a card file.
    """
    _, _, pos = _read_tag(header, 0)
    length, pos = _read_length(header, pos)
    return pos + length


def encode_tlv(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    n = len(value)
    if n < 0x80:
        length = bytes((n,))
    else:
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes((0x80 | len(body),)) + body
    return tag_bytes + length + value

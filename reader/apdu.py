"""ISO 7816-4 command and response APDUs. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["SW", "Command", "Response", "MalformedResponse"]


class SW(IntEnum):
    """Status words the My Number card and our transports use."""

    OK = 0x9000
    BYTES_REMAINING = 0x6100  # 61xx: xx more bytes wait for GET RESPONSE
    WRONG_LE = 0x6C00  # 6Cxx: resend with Le = xx
    VERIFY_FAILED = 0x63C0  # 63Cx: x tries left
    WRONG_LENGTH = 0x6700
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_UNUSABLE = 0x6984  # the card's answer once a PIN is blocked
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED_NO_EF = 0x6986
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    UNKNOWN = 0x6F00


class MalformedResponse(ValueError):
    """A response too short to carry a status word."""


@dataclass(frozen=True, slots=True)
class Command:
    """A short-form command APDU (the My Number card needs no extended length)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # None: no Le byte; 0..256, 256 encoded as 00

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} out of range: {value}")
        if len(self.data) > 255:
            raise ValueError("short APDU data is at most 255 bytes")
        if self.le is not None and not 0 <= self.le <= 256:
            raise ValueError(f"Le out of range: {self.le}")

    def to_bytes(self) -> bytes:
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            out += bytes((len(self.data),)) + self.data
        if self.le is not None:
            out += bytes((self.le & 0xFF,))
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> Command:
        """Parse a short APDU (cases 1-4). Raises ValueError on a malformed one."""
        if len(raw) < 4:
            raise ValueError("command APDU shorter than 4 bytes")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        lc = body[0]
        if lc == 0:
            raise ValueError("extended-length APDUs are not supported")
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, data=bytes(body[1 : 1 + lc]))
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, data=bytes(body[1 : 1 + lc]), le=body[-1] or 256)
        raise ValueError(f"Lc={lc} does not match the {len(body) - 1} bytes that follow")


@dataclass(frozen=True, slots=True)
class Response:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW.OK

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise MalformedResponse(f"response of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    @classmethod
    def status(cls, sw: int) -> Response:
        return cls(b"", sw)

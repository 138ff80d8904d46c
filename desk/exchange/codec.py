"""XML bytes in the two encodings the exchange uses: UTF-8 or Shift_JIS.

The header's `CharacterCodeIdentifier` says which (docs/interface.md: 0 = UTF-8, 1 = Shift_JIS),
and so does the XML declaration. Python's XML parser reads no multi-byte encoding but UTF-8 and
UTF-16, so a Shift_JIS file is decoded here (as cp932, the Windows form of Shift_JIS that
Japanese Windows software writes: it has ①, 﨑 and the other NEC/IBM characters) and parsed as text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from enum import Enum

__all__ = ["Encoding", "XmlCodecError", "sub_element", "to_bytes", "parse", "declared_encoding", "decode_text"]


class Encoding(str, Enum):
    UTF8 = "utf-8"
    SHIFT_JIS = "shift_jis"

    @property
    def character_code(self) -> str:
        """MessageHeader/CharacterCodeIdentifier."""
        return "0" if self is Encoding.UTF8 else "1"

    @property
    def declaration(self) -> str:
        return "UTF-8" if self is Encoding.UTF8 else "Shift_JIS"

    @property
    def codec(self) -> str:
        return "utf-8" if self is Encoding.UTF8 else "cp932"


class XmlCodecError(ValueError):
    """The bytes are no XML this exchange can read (encoding, declaration, DOCTYPE, syntax)."""


# XML 1.0 cannot carry most control characters, and parsers turn CR into LF.
_BAD_XML_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_SJIS_NAMES = {"shift_jis", "shift-jis", "sjis", "x-sjis", "windows-31j", "cp932", "ms932"}


def sub_element(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    """A child element with `text`; XmlCodecError for text XML cannot carry (the other side could
    not read the file back)."""
    element = ET.SubElement(parent, tag)
    if text is not None:
        if _BAD_XML_CHARS.search(text) or "\r" in text:
            raise XmlCodecError(f"{tag} にXMLで書けない制御文字があります")
        element.text = text
    return element


def to_bytes(root: ET.Element, encoding: Encoding) -> bytes:
    """The document with its declaration, in `encoding`. Raises XmlCodecError when a character
    has no Shift_JIS form (the caller chose Shift_JIS for a name that needs UTF-8)."""
    ET.indent(root)
    text = f'<?xml version="1.0" encoding="{encoding.declaration}" standalone="no"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    try:
        return text.encode(encoding.codec)
    except UnicodeEncodeError as exc:
        raise XmlCodecError(f"{text[exc.start:exc.end]!r} は Shift_JIS で書けない文字です") from exc


def decode_text(data: bytes) -> str | None:
    """Text that says nothing of its encoding (a CSV, an `.err`): UTF-8 (a BOM dropped), else the
    Shift_JIS of Japanese Windows software; None when it is neither."""
    for codec in ("utf-8-sig", Encoding.SHIFT_JIS.codec):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return None


def declared_encoding(data: bytes) -> Encoding:
    match = _DECLARATION.match(data[:200])
    if match is None:
        return Encoding.UTF8  # XML's default
    name = match.group(1).decode("ascii").lower()
    if name in _SJIS_NAMES:
        return Encoding.SHIFT_JIS
    if name in {"utf-8", "utf8"}:
        return Encoding.UTF8
    raise XmlCodecError(f"文字コード {name} には対応していません（UTF-8 か Shift_JIS）")


def parse(data: bytes) -> tuple[ET.Element, Encoding]:
    """The root element and the encoding the file was written in."""
    head = data[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise XmlCodecError("DOCTYPE・ENTITY宣言を含むファイルは読みません")
    encoding = declared_encoding(data)
    try:
        text = data.decode(encoding.codec)
    except UnicodeDecodeError as exc:
        raise XmlCodecError(f"{encoding.declaration} として読めない文字があります（{exc.start}バイト目）") from exc
    text = text.lstrip("\ufeff")
    # the declaration names an encoding the text no longer has once decoded: drop it
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    try:
        return ET.fromstring(text), encoding
    except ET.ParseError as exc:
        raise XmlCodecError(f"XMLとして読めません: {exc}") from exc

"""The terminal's attestation for confirmations without the card's PIN (顔認証 / 目視確認).

With the PIN the card itself signs the central system's nonce. With face or 目視 no card key is
used (nor when the terminal re-sends a PIN confirmation queued during an outage): the face-auth reader vouches that it (or a staff member) checked the holder against the
card photo. We model that vouching as an Ed25519 signature by a key kept on the terminal over
(nonce, SHA-256 of the card's certificate, method, staff ID); the central system is given the
terminal's public key once (registration) and verifies each attestation.

The key file is created on first use (PKCS#8 PEM, mode 0600). It is a simulation key: a real
reader keeps its key in hardware.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from desk.atomicfile import create_once
from desk.models import AuthMethod
from reader.staff_facing import StaffFacingError

__all__ = ["AttestationError", "ReaderAttestor", "attestation_message", "verify_attestation"]

_DOMAIN = b"madoguchi reader attestation v1"
# PIN, and an iPhone's own Face ID (DEVICE): only when the terminal re-sends a confirmation queued
# during an outage (事後確認): the patient was verified at the desk, but is gone and cannot sign again.
_ATTESTABLE = (AuthMethod.FACE, AuthMethod.VISUAL, AuthMethod.PIN, AuthMethod.DEVICE)


class AttestationError(StaffFacingError):
    title = "カードリーダーの本人確認結果を作成できません"


def _field(data: bytes) -> bytes:
    # Length-prefixed, so no two different tuples encode to the same message.
    return len(data).to_bytes(4, "big") + data


def attestation_message(nonce: bytes, certificate_der: bytes, method: AuthMethod, staff_id: str | None) -> bytes:
    """The exact bytes the terminal signs. 目視確認 must name the staff member (others may, e.g. a re-query)."""
    if method not in _ATTESTABLE:
        raise AttestationError(f"「{method.label}」は端末の本人確認結果の対象ではありません")
    if method is AuthMethod.VISUAL and not staff_id:
        raise AttestationError("目視確認には確認した職員のIDが必要です")
    if not nonce:
        raise AttestationError("照会用の乱数がありません")
    fingerprint = hashlib.sha256(certificate_der).digest()
    parts = (_DOMAIN, nonce, fingerprint, method.value.encode(), (staff_id or "").encode("utf-8"))
    return b"".join(_field(p) for p in parts)


class ReaderAttestor:
    """Signs attestations with the terminal's Ed25519 key, stored at `key_path` (created if missing)."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = Path(key_path)
        self._key = self._load_or_create()

    def _load_or_create(self) -> Ed25519PrivateKey:
        key: PrivateKeyTypes
        if not self.key_path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            create_once(self.key_path, pem)  # another process may have made one meanwhile: then theirs
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise AttestationError(f"端末の鍵ファイル {self.key_path} を読めません: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise AttestationError(f"端末の鍵ファイル {self.key_path} はEd25519の鍵ではありません")
        return key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def public_key_bytes(self) -> bytes:
        """The 32-byte raw public key, as registered with the central system."""
        return self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def attest(self, nonce: bytes, certificate_der: bytes, method: AuthMethod, staff_id: str | None = None) -> bytes:
        return self._key.sign(attestation_message(nonce, certificate_der, method, staff_id))


def verify_attestation(
    public_key: Ed25519PublicKey | bytes,
    attestation: bytes,
    nonce: bytes,
    certificate_der: bytes,
    method: AuthMethod,
    staff_id: str | None,
) -> bool:
    if isinstance(public_key, bytes):
        try:
            public_key = Ed25519PublicKey.from_public_bytes(public_key)
        except ValueError:
            return False
    try:
        message = attestation_message(nonce, certificate_der, method, staff_id)
    except AttestationError:
        return False
    try:
        public_key.verify(attestation, message)
    except InvalidSignature:
        return False
    return True

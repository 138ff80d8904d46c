"""A simulated JPKI certificate authority (J-LIS stand-in) for the virtual cards.

Keys are generated once and cached under the simulation's key directory, so that the virtual
card (possibly served in another process through vpcd) and the simulated central system agree on
the same CA and the same card keys. Nothing here is a real key.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from desk.atomicfile import write_bytes_atomic
from sim.fixtures import FixtureError

__all__ = ["REAL_JPKI_USER_AUTH_CA_NAME", "SimJpkiCa", "CardKeyMaterial", "default_key_dir"]

_JST = dt.timezone(dt.timedelta(hours=9))
_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for user authentication (SIMULATED)"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Japan Agency for Local Authority Information Systems (SIMULATED)"),
    ]
)

# A smartphone's スマホ用電子証明書 comes from a CA of its own here; the real issuer's name is
# UNCONFIRMED (docs/smartphone.md §3), so only "SIMULATED" marks it.
_PHONE_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for smartphone user authentication (SIMULATED)"),
    ]
)

# The signature half of the card has a CA of its own (署名用認証局), as the real JPKI does.
_SIGN_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature (SIMULATED)"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Japan Agency for Local Authority Information Systems (SIMULATED)"),
    ]
)


def default_key_dir() -> Path:
    """Where simulated keys live: $MADOGUCHI_SIM_DIR/keys, else the user's cache."""
    base = os.environ.get("MADOGUCHI_SIM_DIR")
    if base:
        return Path(base) / "keys"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "madoguchi" / "sim-keys"


# Keys already read, by file: reading a PEM key checks it (about 50 ms for RSA-2048), and a training
# desk places the same cards again and again. The file is the truth: a changed file is read again.
_LOADED: dict[Path, tuple[float, int, rsa.RSAPrivateKey]] = {}
_LOADED_LOCK = threading.Lock()


def _load_or_make_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        stat = path.stat()
    except FileNotFoundError:
        stat = None
    if stat is not None:
        with _LOADED_LOCK:
            known = _LOADED.get(path)
        if known is not None and known[:2] == (stat.st_mtime, stat.st_size):
            return known[2]
        key = _read_key(path)
        with _LOADED_LOCK:
            _LOADED[path] = (stat.st_mtime, stat.st_size, key)
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_bytes_atomic(path, pem)
    # Two processes may race to create the same key: whoever renamed last wins, so re-read.
    return _load_or_make_key(path)


def _read_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise FixtureError(
                f"シミュレータの鍵（{path}）を読めません。壊れている場合はファイルを消すと作り直されます"
                "（その鍵で作った仮想カードも作り直しになります）。",
                "シミュレータの鍵が壊れています",
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise FixtureError(f"シミュレータの鍵（{path}）がRSAの鍵ではありません。", "シミュレータの鍵が壊れています")
        return key
    raise FileNotFoundError(2, "No such file", str(path))


def _jst_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), _JST)


@dataclass(frozen=True)
class CardKeyMaterial:
    private_key: rsa.RSAPrivateKey
    certificate_der: bytes


# The real JPKI user-authentication CA's name (its key is J-LIS's): a stand-in CA under this name,
# with a key of ours, issues cards that the simulated central system takes for real ones.
REAL_JPKI_USER_AUTH_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for user authentication"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Japan Agency for Local Authority Information Systems"),
    ]
)


class SimJpkiCa:
    def __init__(self, key_dir: Path | None = None, *, name: x509.Name = _CA_NAME) -> None:
        self.key_dir = key_dir or default_key_dir()
        self.name = name
        self._signature_ca: SimJpkiCa | None = None
        self._smartphone_ca: SimJpkiCa | None = None
        self._key = _load_or_make_key(self.key_dir / "jpki-ca-key.pem")
        self.certificate = self._ca_certificate()

    def _ca_certificate(self) -> x509.Certificate:
        path = self.key_dir / "jpki-ca-cert.der"
        cert: x509.Certificate | None = None
        if path.exists():
            try:
                cert = x509.load_der_x509_certificate(path.read_bytes())
            except ValueError:
                cert = None  # derived from the key: a damaged copy is simply made again
        if cert is not None:
            if cert.public_key().public_numbers() == self._key.public_key().public_numbers() and cert.subject == self.name:
                return cert
        cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self._key.public_key())
            .serial_number(1)
            .not_valid_before(_jst_midnight(dt.date(2014, 1, 1)))
            .not_valid_after(_jst_midnight(dt.date(2045, 1, 1)))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        write_bytes_atomic(path, cert.public_bytes(serialization.Encoding.DER), mode=0o644)
        return cert

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def smartphone_ca(self) -> SimJpkiCa:
        """The CA of the phones' スマホ用電子証明書 (its keys beside this one's, in `smartphone/`)."""
        if self._smartphone_ca is None:
            self._smartphone_ca = SimJpkiCa(self.key_dir / "smartphone", name=_PHONE_CA_NAME)
        return self._smartphone_ca

    @property
    def signature_ca(self) -> SimJpkiCa:
        """The CA of the card's signature half (its keys beside this one's, in `signature/`)."""
        if self._signature_ca is None:
            self._signature_ca = SimJpkiCa(self.key_dir / "signature", name=_SIGN_CA_NAME)
        return self._signature_ca

    def card_keys(
        self, serial: int, not_before: dt.date, not_after: dt.date, *, holder_name: str | None = None
    ) -> CardKeyMaterial:
        """The key pair and certificate of the card with this certificate serial.

        From the user-auth CA: the 利用者証明用電子証明書, which carries no personal data (its subject
        is a random-looking ID). From `signature_ca` with `holder_name`: the 署名用電子証明書, which
        names the holder (as the real one names name, address, birth date and sex), for
        non-repudiation. `not_after` is the last valid day (JST), as printed in the renewal notice.
        """
        key = _load_or_make_key(self.key_dir / "cards" / f"{serial}.pem")
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, holder_name if holder_name else f"{serial:016X}"),
        ])
        # digital signature (user auth) / + content commitment (the signature certificate)
        usage = x509.KeyUsage(True, holder_name is not None, False, False, False, False, False, False, False)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(_jst_midnight(not_before))
            .not_valid_after(_jst_midnight(not_after + dt.timedelta(days=1)) - dt.timedelta(seconds=1))
            .add_extension(usage, critical=True)
            .sign(self._key, hashes.SHA256())
        )
        return CardKeyMaterial(key, cert.public_bytes(serialization.Encoding.DER))

    def verify_issued(self, certificate: x509.Certificate) -> bool:
        """True when `certificate` was signed by this CA."""
        try:
            certificate.verify_directly_issued_by(self.certificate)
        except (ValueError, TypeError, Exception):  # InvalidSignature has no common base
            return False
        return True

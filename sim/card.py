"""A virtual My Number card that answers the same APDUs as a real one, and the in-process transport.

`VirtualCard.process(apdu) -> response` never raises: every input, however malformed, gets a
status word, as a card would give. Faults from the fixture (card pulled after the Nth APDU,
truncated or corrupted responses, a wrong status word, a slow card) are injected here, so they
behave the same in-process and through pcscd+vpcd.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from reader.apdu import SW, Command, Response
from reader.errors import CardRemoved, NoCard
from reader.face_counter import FACE_COUNTER_AID, FACE_COUNTER_INS, FaceCounterOp
from reader.layout import AP, InputSupportEF, JpkiEF, SurfaceEF
from reader.tlv import encode_tlv
from reader.transport import PresenceCallback
from sim.card_state import CardStateStore
from sim.fixtures import CardFixture, FaultsFixture, PinFixture
from sim.jpki import SimJpkiCa

__all__ = ["FACE_FAILURES_KEY", "VirtualCard", "SimTransport"]

# The card's count of consecutive failed face authentications, kept with its PIN counters
# (docs/face-lock.md: the real lock lives on the card). It stops at the lock, as a PIN's tries
# stop at 0; only a success resets it, and the municipality releases it (SimWorld.release_face_lock).
FACE_FAILURES_KEY = "face_failures"
FACE_LOCK_AT = 10  # desk.models.FACE_LOCK_AFTER: the card's own threshold



@dataclass
class _Pin:
    key: str  # name in the persisted counters
    value: bytes
    max_tries: int


@dataclass
class _Key:
    private_key: rsa.RSAPrivateKey
    unlocked_by: tuple[int, ...]


@dataclass
class _Binary:
    data: bytes
    unlocked_by: tuple[int, ...] = ()  # empty: free to read; else any one of these PIN EFs


@dataclass
class _Application:
    files: dict[int, _Binary | _Pin | _Key] = field(default_factory=dict)


def _fake_my_number(serial: int) -> bytes:
    # The virtual card holds a My Number so that a test can prove the terminal never reads it.
    digest = hashlib.sha256(f"my-number-{serial}".encode()).hexdigest()
    return "".join(str(int(c, 16) % 10) for c in digest[:12]).encode("ascii")


class VirtualCard:
    """One card built from a fixture. Thread-safe: pcscd may poll while an APDU is answered."""

    def __init__(self, fixture: CardFixture, ca: SimJpkiCa, state: CardStateStore | None = None) -> None:
        self.fixture = fixture
        self.atr = bytes.fromhex(fixture.atr)
        self.state = state if state is not None else CardStateStore(None)
        self.card_id = f"{fixture.name}-{fixture.certificate.serial}"
        self._ca = ca
        self._lock = threading.RLock()
        self._apps = self._build()
        self._pins_by_key = {f.key: f for app in self._apps.values() for f in app.files.values() if isinstance(f, _Pin)}
        self._tries = {key: pin.max_tries for key, pin in self._pins_by_key.items()}
        self._tries.update(self._initial_tries())
        self._tries.update({k: v for k, v in self.state.load(self.card_id).items() if k in self._tries})
        self.faults: FaultsFixture = fixture.faults
        self.apdu_count = 0
        self.removed = False
        self._power_on()

    # -- construction ---------------------------------------------------------------------

    def _initial_tries(self) -> dict[str, int]:
        pins = self.fixture.pins
        out = {}
        for key, pin in (("auth", pins.auth), ("input_support", pins.input_support), ("signature", pins.signature)):
            if pin is not None:
                out[key] = min(pin.tries_left, pin.max_tries)
        return out

    def _build(self) -> dict[bytes, _Application]:
        fx = self.fixture
        if fx.device != "card":
            return self._build_phone()
        keys = self._ca.card_keys(fx.certificate.serial, fx.certificate.not_before, fx.certificate.not_after)
        holder = fx.holder
        check_b = fx.check_b.encode("ascii")
        my_number = _fake_my_number(fx.certificate.serial)

        def pin(key: str, p: PinFixture | None) -> _Pin | None:
            return None if p is None else _Pin(key, p.value.encode("ascii"), p.max_tries)

        jpki = _Application()
        jpki.files[JpkiEF.TOKEN] = _Binary(fx.token.encode("ascii").ljust(32, b" "))
        jpki.files[JpkiEF.AUTH_CERT] = _Binary(keys.certificate_der)
        jpki.files[JpkiEF.AUTH_CA_CERT] = _Binary(self._ca.certificate_der)
        if (auth := pin("auth", fx.pins.auth)) is not None:
            jpki.files[JpkiEF.AUTH_PIN] = auth
        # A card without a PIN (顔認証マイナンバーカード) keeps its key but no PIN can unlock it.
        jpki.files[JpkiEF.AUTH_KEY] = _Key(keys.private_key, (JpkiEF.AUTH_PIN,))
        # The signature half (署名用): its own key, certificate and CA. The certificate names the
        # holder: only the signature password opens it, and the key signs only after it.
        signing_ca = self._ca.signature_ca
        signing = signing_ca.card_keys(
            fx.certificate.serial, fx.certificate.not_before, fx.certificate.not_after, holder_name=holder.name
        )
        jpki.files[JpkiEF.SIGN_CA_CERT] = _Binary(signing_ca.certificate_der)
        # A card issued without a signature password (顔認証マイナンバーカード) has no signature
        # certificate: municipalities state it is not issued for that card.
        if (sign := pin("signature", fx.pins.signature)) is not None:
            jpki.files[JpkiEF.SIGN_PIN] = sign
            jpki.files[JpkiEF.SIGN_CERT] = _Binary(signing.certificate_der, (JpkiEF.SIGN_PIN,))
            jpki.files[JpkiEF.SIGN_KEY] = _Key(signing.private_key, (JpkiEF.SIGN_PIN,))

        support = _Application()
        if (isp := pin("input_support", fx.pins.input_support)) is not None:
            support.files[InputSupportEF.PIN] = isp
        support.files[InputSupportEF.CHECK_A] = _Pin("input_check_a", my_number, 10)
        support.files[InputSupportEF.CHECK_B] = _Pin("input_check_b", check_b, 10)
        support.files[InputSupportEF.MY_NUMBER] = _Binary(
            encode_tlv(0xFF10, my_number), (InputSupportEF.PIN, InputSupportEF.CHECK_A)
        )
        basic_four = b"".join(
            (
                encode_tlv(0xDF21, bytes.fromhex("0000")),  # header: offsets table (unused by readers here)
                encode_tlv(0xDF22, holder.name.encode("utf-8")),
                encode_tlv(0xDF23, holder.address.encode("utf-8")),
                encode_tlv(0xDF24, holder.birth_date.strftime("%Y%m%d").encode("ascii")),
                encode_tlv(0xDF25, holder.sex.encode("ascii")),
            )
        )
        support.files[InputSupportEF.BASIC_FOUR] = _Binary(
            _long_form(0xFF20, basic_four), (InputSupportEF.PIN, InputSupportEF.CHECK_B)
        )

        surface = _Application()
        surface.files[SurfaceEF.CHECK_A] = _Pin("surface_check_a", my_number, 10)
        surface.files[SurfaceEF.CHECK_B] = _Pin("surface_check_b", check_b, 10)
        front = b"".join(
            (
                encode_tlv(0xDF21, bytes.fromhex("0000")),
                encode_tlv(0xDF22, holder.birth_date.strftime("%Y%m%d").encode("ascii")),
                encode_tlv(0xDF23, holder.sex.encode("ascii")),
                encode_tlv(0xDF27, fx.photo_path.read_bytes()),  # face photo, JPEG 2000
                encode_tlv(0xDF29, f"{fx.card_face.expiry_year:04d}".encode("ascii")),
            )
        )
        surface.files[SurfaceEF.FRONT] = _Binary(_long_form(0xFF20, front), (SurfaceEF.CHECK_B, SurfaceEF.CHECK_A))
        # the face-auth count's stand-in application (reader/face_counter.py): no files, one command
        counter = _Application()
        return {AP.JPKI.value: jpki, AP.INPUT_SUPPORT.value: support, AP.SURFACE.value: surface, FACE_COUNTER_AID: counter}

    def _build_phone(self) -> dict[bytes, _Application]:
        """A smartphone's JPKI application, the only one it carries (docs/smartphone.md §1-2)."""
        fx = self.fixture
        ca = self._ca.smartphone_ca
        keys = ca.card_keys(fx.certificate.serial, fx.certificate.not_before, fx.certificate.not_after)
        jpki = _Application()
        jpki.files[JpkiEF.TOKEN] = _Binary(fx.token.encode("ascii").ljust(32, b" "))
        jpki.files[JpkiEF.AUTH_CA_CERT] = _Binary(ca.certificate_der)
        if fx.pins.auth is not None:  # the phone's own: set on the phone, separate from the card's
            jpki.files[JpkiEF.AUTH_PIN] = _Pin("auth", fx.pins.auth.value.encode("ascii"), fx.pins.auth.max_tries)
        if fx.device == "android":
            # the user-auth certificate only after the PIN (jpki/myna verifies first for GPSE)
            jpki.files[JpkiEF.AUTH_CERT] = _Binary(keys.certificate_der, (JpkiEF.AUTH_PIN,))
            jpki.files[JpkiEF.AUTH_KEY] = _Key(keys.private_key, (JpkiEF.AUTH_PIN,))
        else:
            # iPhone: Face ID on the phone opens the key; a locked phone opens nothing (assumed)
            opened: tuple[int, ...] = () if fx.unlocked_on_phone else (JpkiEF.AUTH_PIN,)
            jpki.files[JpkiEF.AUTH_CERT] = _Binary(keys.certificate_der, opened)
            jpki.files[JpkiEF.AUTH_KEY] = _Key(keys.private_key, opened)
        # Both phones carry the 署名用 certificate too (docs/smartphone.md §3), behind the phone's own
        # 署名用パスワード; its issuer is UNCONFIRMED: the phones' CA's own signature CA here.
        if fx.pins.signature is not None:
            signing_ca = ca.signature_ca
            signing = signing_ca.card_keys(
                fx.certificate.serial, fx.certificate.not_before, fx.certificate.not_after, holder_name=fx.holder.name
            )
            jpki.files[JpkiEF.SIGN_CA_CERT] = _Binary(signing_ca.certificate_der)
            jpki.files[JpkiEF.SIGN_PIN] = _Pin("signature", fx.pins.signature.value.encode("ascii"), fx.pins.signature.max_tries)
            jpki.files[JpkiEF.SIGN_CERT] = _Binary(signing.certificate_der, (JpkiEF.SIGN_PIN,))
            jpki.files[JpkiEF.SIGN_KEY] = _Key(signing.private_key, (JpkiEF.SIGN_PIN,))
        return {AP.JPKI.value: jpki}

    # -- session state ----------------------------------------------------------------------

    def _power_on(self) -> None:
        self._ap: bytes | None = None
        self._ef: int | None = None
        self._verified: set[int] = set()

    def reset(self) -> None:
        """Power cycle: the chip forgets selection and verification, keeps the counters."""
        with self._lock:
            self._power_on()

    def tries_left(self, key: str) -> int:
        return self._tries[key]

    def face_failures(self) -> int:
        """The consecutive failed face authentications the card holds now. Read from its state
        each time: another object for the same card (another desk's process) may have counted."""
        with self._lock:
            stored = self.state.load(self.card_id).get(FACE_FAILURES_KEY)
            return stored or 0  # a card never counted: none so far

    def _set_face_failures(self, value: int) -> None:
        if value != self.face_failures():
            self.state.save(self.card_id, {**self._tries, FACE_FAILURES_KEY: value})

    def remove(self) -> None:
        with self._lock:
            self.removed = True
            self._power_on()

    @property
    def pull_due(self) -> bool:
        """The injected "card pulled after the Nth APDU" has come: no further APDU reaches the chip."""
        after = self.faults.remove_after
        return after is not None and self.apdu_count >= after

    # -- APDU processing --------------------------------------------------------------------

    def process(self, apdu: bytes) -> bytes:
        with self._lock:
            self.apdu_count += 1
            index = self.apdu_count
            faults = self.faults
            if faults.delay_ms:
                time.sleep(faults.delay_ms / 1000)
            try:
                response = self._dispatch(apdu).to_bytes()
            except Exception:  # a card never crashes the reader: report "no precise diagnosis"
                response = Response.status(SW.UNKNOWN).to_bytes()
            if faults.wrong_sw_at == index:
                response = response[:-2] + faults.wrong_sw.to_bytes(2, "big")
            if faults.corrupt_at == index and len(response) > 2:
                response = bytes(b ^ 0x5A for b in response[:-2]) + response[-2:]
            if faults.truncate_at == index:
                response = response[:1]
            if self.pull_due:
                self.removed = True
            return response

    def _dispatch(self, apdu: bytes) -> Response:
        try:
            cmd = Command.from_bytes(apdu)
        except ValueError:
            return Response.status(SW.WRONG_LENGTH)
        if cmd.cla not in (0x00, 0x80):
            return Response.status(SW.CLA_NOT_SUPPORTED)
        handler = {
            0xA4: self._select, 0xB0: self._read_binary, 0x20: self._verify, 0x2A: self._sign, FACE_COUNTER_INS: self._face_counter,
        }.get(cmd.ins)
        if handler is None:
            return Response.status(SW.INS_NOT_SUPPORTED)
        return handler(cmd)

    def _select(self, cmd: Command) -> Response:
        # Every client asks for "no FCI" (P2 0C); a test of real cards (AokiApp/jsapdu e2e) expects
        # 9000 for P2 00 too. The FCI a real card would return is not documented: none is sent.
        if cmd.p2 not in (0x0C, 0x00):
            return Response.status(SW.WRONG_P1P2)
        if cmd.p1 == 0x04:
            if cmd.data not in self._apps:
                return Response.status(SW.FILE_NOT_FOUND)
            # Selecting an application clears the security state (assumed; see research notes §8).
            self._ap, self._ef, self._verified = cmd.data, None, set()
            return Response.status(SW.OK)
        if cmd.p1 == 0x02:
            if self._ap is None:
                return Response.status(SW.COMMAND_NOT_ALLOWED_NO_EF)
            if len(cmd.data) != 2:
                return Response.status(SW.WRONG_LENGTH)
            fid = int.from_bytes(cmd.data, "big")
            if fid not in self._apps[self._ap].files:
                return Response.status(SW.FILE_NOT_FOUND)
            self._ef = fid
            return Response.status(SW.OK)
        return Response.status(SW.WRONG_P1P2)

    def _current(self) -> _Binary | _Pin | _Key | None:
        if self._ap is None or self._ef is None:
            return None
        return self._apps[self._ap].files.get(self._ef)

    def _read_binary(self, cmd: Command) -> Response:
        if cmd.p1 & 0x80:
            return Response.status(SW.WRONG_P1P2)  # short-EF addressing is not offered
        ef = self._current()
        if not isinstance(ef, _Binary):
            return Response.status(SW.COMMAND_NOT_ALLOWED_NO_EF)
        if ef.unlocked_by and not self._verified.intersection(ef.unlocked_by):
            return Response.status(SW.SECURITY_NOT_SATISFIED)
        offset = (cmd.p1 << 8) | cmd.p2
        if offset >= len(ef.data):  # ISO 7816-4: an offset outside the EF
            return Response.status(SW.WRONG_P1P2)
        # A read that runs past the end answers the bytes there are with 9000, as JPKIReader's
        # whole-block reads of real cards show.
        length = 256 if cmd.le is None else cmd.le
        return Response(ef.data[offset : offset + length], SW.OK)

    def _verify(self, cmd: Command) -> Response:
        if cmd.p1 != 0x00 or cmd.p2 != 0x80:
            return Response.status(SW.WRONG_P1P2)
        pin = self._current()
        if not isinstance(pin, _Pin):
            return Response.status(SW.COMMAND_NOT_ALLOWED_NO_EF)
        tries = self._tries[pin.key]
        if not cmd.data:
            # Status query, spends nothing: a real card always answers 63Cx, even right after a
            # correct PIN ("JPKI card always return tries_left", OpenSC PR #959, with its trace),
            # and OpenSC's driver fails on anything else. For a blocked PIN no source says: 63C0
            # is chosen, which keeps the token listable (OpenSC reads both PINs when binding).
            return Response.status(SW.VERIFY_FAILED | tries)
        if tries == 0:
            return Response.status(SW.REFERENCE_DATA_UNUSABLE)  # VERIFY on a blocked PIN (jpki/myna)
        if hashlib.sha256(cmd.data).digest() == hashlib.sha256(pin.value).digest():
            self._set_tries(pin.key, pin.max_tries)
            assert self._ef is not None
            self._verified.add(self._ef)
            return Response.status(SW.OK)
        self._set_tries(pin.key, tries - 1)
        self._verified.discard(self._ef or 0)
        return Response.status(SW.VERIFY_FAILED | (tries - 1))

    def _set_tries(self, key: str, value: int) -> None:
        if self._tries[key] != value:
            self._tries[key] = value
            self.state.save(self.card_id, {**self._tries, FACE_FAILURES_KEY: self.face_failures()})

    def _face_counter(self, cmd: Command) -> Response:
        if self._ap != FACE_COUNTER_AID:
            return Response.status(SW.INS_NOT_SUPPORTED)
        if cmd.cla != 0x80 or cmd.p2 != 0x00 or cmd.data:
            return Response.status(SW.WRONG_P1P2)
        count = self.face_failures()
        if cmd.p1 == FaceCounterOp.FAILED:
            count = min(count + 1, FACE_LOCK_AT)
        elif cmd.p1 == FaceCounterOp.SUCCEEDED:
            count = count if count >= FACE_LOCK_AT else 0  # a lock is released by the municipality only
        elif cmd.p1 != FaceCounterOp.READ:
            return Response.status(SW.WRONG_P1P2)
        self._set_face_failures(count)
        return Response(bytes((count,)), SW.OK)

    def _sign(self, cmd: Command) -> Response:
        if cmd.cla != 0x80 or cmd.p1 != 0x00 or cmd.p2 != 0x80:
            return Response.status(SW.WRONG_P1P2)
        key = self._current()
        if not isinstance(key, _Key):
            return Response.status(SW.CONDITIONS_NOT_SATISFIED)
        if key.unlocked_by and not self._verified.intersection(key.unlocked_by):
            return Response.status(SW.SECURITY_NOT_SATISFIED)
        # The card pads what it is given (PKCS#1 v1.5 type 1) and signs: a DigestInfo from every
        # JPKI client, the caller's raw bytes from OpenSC's CKM_RSA_PKCS (the driver advertises
        # PAD_PKCS1 | HASH_NONE). It never hashes. Too long for the padding: wrong length.
        signature = _pkcs1_sign(key.private_key, cmd.data)
        if signature is None:
            return Response.status(SW.WRONG_LENGTH)
        return Response(signature, SW.OK)


# DigestInfo prefixes (RFC 8017 §9.2 note 1): the common input, signed through OpenSSL (fast)
_DIGEST_INFOS: dict[bytes, hashes.HashAlgorithm] = {
    bytes.fromhex("3021300906052b0e03021a05000414"): hashes.SHA1(),
    bytes.fromhex("3031300d060960864801650304020105000420"): hashes.SHA256(),
    bytes.fromhex("3041300d060960864801650304020205000430"): hashes.SHA384(),
    bytes.fromhex("3051300d060960864801650304020305000440"): hashes.SHA512(),
}


def _pkcs1_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes | None:
    """RSASSA-PKCS1-v1_5 over `data` as given (RFC 8017 §9.2 step 5 onward: no hashing here)."""
    for prefix, algorithm in _DIGEST_INFOS.items():
        if data.startswith(prefix) and len(data) == len(prefix) + algorithm.digest_size:
            # the same signature OpenSSL makes for a DigestInfo it builds itself
            return key.sign(data[len(prefix) :], padding.PKCS1v15(), utils.Prehashed(algorithm))
    numbers = key.private_numbers()
    size = (numbers.public_numbers.n.bit_length() + 7) // 8
    if not data or len(data) > size - 11:
        return None
    encoded = int.from_bytes(b"\x00\x01" + b"\xff" * (size - 3 - len(data)) + b"\x00" + data, "big")
    # m^d mod n by the Chinese remainder theorem (RFC 8017 §5.1.2)
    s1, s2 = pow(encoded, numbers.dmp1, numbers.p), pow(encoded, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (s1 - s2)) % numbers.p
    return (s2 + h * numbers.q).to_bytes(size, "big")


def _long_form(tag: int, value: bytes) -> bytes:
    # Real cards frame the record with a 3-byte length (82 xx xx) whatever its size.
    return tag.to_bytes(2, "big") + b"\x82" + len(value).to_bytes(2, "big") + value


class SimTransport:
    """The simulated reader: one slot, a virtual card placed or taken away in-process."""

    def __init__(self, card: VirtualCard | None = None, name: str = "sim") -> None:
        self.name = name
        self._card: VirtualCard | None = None
        self._present = threading.Condition()
        self._inserted: list[PresenceCallback] = []
        self._removed: list[PresenceCallback] = []
        if card is not None:
            self.insert(card)

    @property
    def card(self) -> VirtualCard | None:
        return self._card

    @property
    def atr(self) -> bytes:
        if self._card is None:
            raise NoCard("カードリーダーにカードが置かれていません。")
        return self._card.atr

    def insert(self, card: VirtualCard) -> None:
        with self._present:
            card.removed = False
            card.apdu_count = 0
            card.reset()
            self._card = card
            self._present.notify_all()
        for callback in list(self._inserted):
            callback()

    def remove(self) -> None:
        with self._present:
            card, self._card = self._card, None
            if card is not None:
                card.remove()
            self._present.notify_all()
        if card is not None:
            for callback in list(self._removed):
                callback()

    def connect(self) -> None:
        card = self._card
        if card is None or card.removed:
            raise NoCard("カードリーダーにカードが置かれていません。カードを置いてください。")
        card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        card = self._card
        if card is not None and card.pull_due:
            card.removed = True
            self._on_pulled(card)
        if card is None or card.removed:
            raise CardRemoved("読み取り中にカードが取り外されました。カードをもう一度置いてください。")
        response = card.process(apdu)
        if card.removed:
            # The fault "pulled after the Nth APDU": the Nth answer arrives, then the card is gone.
            self._on_pulled(card)
        return response

    def _on_pulled(self, card: VirtualCard) -> None:
        with self._present:
            if self._card is card:
                self._card = None
            self._present.notify_all()
        for callback in list(self._removed):
            callback()

    def wait_for_card(self, timeout: float) -> bool:
        with self._present:
            return self._present.wait_for(lambda: self._card is not None, timeout)

    def wait_for_removal(self, timeout: float) -> bool:
        with self._present:
            return self._present.wait_for(lambda: self._card is None, timeout)

    def watch(self, on_inserted: PresenceCallback, on_removed: PresenceCallback) -> None:
        self._inserted.append(on_inserted)
        self._removed.append(on_removed)

    def close(self) -> None:
        self._inserted.clear()
        self._removed.clear()

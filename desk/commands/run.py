"""`desk` with no sub-command: the reception screen.

    desk                                  simulated reader (card `adult` placed) and camera: training mode
    desk --reader sim:elder-80            another fixture card on the simulated reader
    desk --reader pcsc[:NAME] --camera 0  a real PC/SC reader and camera
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_run_options", "run_tui"]


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The top-level options of `desk` (they apply when no sub-command is given)."""
    parser.add_argument(
        "--reader", default=None, help="受付画面のカードリーダー: sim[:カード名]（既定 sim:adult）または pcsc[:リーダー名]"
    )
    parser.add_argument(
        "--camera", default=None, help="受付画面のカメラ: 番号またはデバイス（pcsc のとき）／シナリオ名 holder, other …（sim のとき）"
    )


def run_tui(args: argparse.Namespace) -> int:
    from desk.hardware import DEFAULT_SIM_CARD

    spec = getattr(args, "reader", None) or f"sim:{DEFAULT_SIM_CARD}"
    kind, _, name = spec.partition(":")
    try:
        if kind == "sim":
            session, controls = _sim_session(name or None, getattr(args, "camera", None))
            watch = False
        elif kind == "pcsc":
            session, controls = _hardware_session(name or None, getattr(args, "camera", None)), None
            watch = True
        else:
            print(f"desk: --reader は sim[:カード名] または pcsc[:リーダー名] で指定してください（指定値: {spec}）", file=sys.stderr)
            return 2
    except Exception as exc:
        title = getattr(exc, "title", None)
        if title is None:
            raise
        print(f"{title}: {exc}", file=sys.stderr)
        return 1

    from desk.tui.app import make_app

    make_app(session, controls, watch_reader=watch, live_frames=1.0, face_process=True).run()
    return 0


def _sim_session(card: str | None, camera: str | None):
    from sim.session import make_sim_session

    # Training runs on the fixtures' reference date, so every fixture card shows its case
    # (cert-expired-4m past its grace, cert-expiring-6w with its renewal alert …).
    return make_sim_session(card or None, camera_scenario=camera or "holder")


def _hardware_session(reader: str | None, camera: str | None):
    """A real reader and camera; the central system stays the simulator (there is no other here).

    Built from the simulated desk with its reader and camera swapped for the real ones, so that
    the journal, facility config and attestation key are the same as in training.
    """
    from reader.pcsc import PcscTransport
    from sim.session import make_sim_session

    session, _ = make_sim_session(None, with_camera=False, today=None)
    ports = session.ports
    ports.transport = PcscTransport(reader)
    ports.check_b = lambda: None  # 照合番号B comes from the card front; a real desk has no OCR here
    if camera is not None:
        from reader.camera import OpenCvCamera
        from reader.face import DlibFaceMatcher

        source: int | str = int(camera) if camera.isdigit() else camera
        ports.camera = OpenCvCamera(source)  # opened by the session on first use
        ports.matcher = DlibFaceMatcher()
    return session

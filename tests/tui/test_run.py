"""`desk` with no sub-command builds the reception app on the simulated desk (the app is not run)."""

from __future__ import annotations

import pytest

from desk.cli import main
from desk.flow import State


@pytest.fixture
def started(monkeypatch, sim_base):
    monkeypatch.setenv("MADOGUCHI_SIM_DIR", str(sim_base))
    apps = []
    monkeypatch.setattr("desk.tui.app.DeskApp.run", lambda self, *a, **k: apps.append(self))
    return apps


def test_desk_without_arguments_opens_training_mode_with_the_default_card(started):
    assert main([]) == 0
    (app,) = started
    assert app.training
    assert app.session.reception.state is State.CHOOSING
    assert app.controls.transport.card.fixture.name == "adult"


def test_desk_reader_option_places_another_fixture_card_and_camera_scenario(started):
    assert main(["--reader", "sim:no-pin", "--camera", "other"]) == 0
    (app,) = started
    assert app.session.reception.pin_tries_left is None
    assert app.controls.camera_scenario == "other"


def test_desk_rejects_an_unknown_reader_kind(started, capsys):
    assert main(["--reader", "usb:0"]) == 2
    assert "--reader" in capsys.readouterr().err
    assert started == []

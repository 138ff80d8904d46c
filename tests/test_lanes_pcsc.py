"""Two lanes over a real pcscd: vpcd's two virtual readers, each served by a card server of its own
("Virtual PCD 00 00" on 35963, "Virtual PCD 00 01" on 35964), as `desk --reader pcsc:… --reader
pcsc:… --demo` assembles the desk."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from desk.flow import State
from desk.lanes import Lane
from desk.models import AuthMethod, FailureName
from desk.wiring import Desk, DeskConfig, ReaderSpec, open_desk
from sim.card import VirtualCard
from sim.fixtures import REFERENCE_DATE
from sim.pcscd import VirtualReaderStack
from sim.vpcd import VPCD_READER, VPCD_SECOND_READER
from sim.world import SimWorld
from tests.pcsc_stack import place_card

pytestmark = pytest.mark.pcsc


@pytest.fixture
def desk(sim_base: Path, pcsc_stack: VirtualReaderStack) -> Iterator[Desk]:
    made = open_desk(DeskConfig(
        reader=ReaderSpec("pcsc", VPCD_READER), more_readers=(ReaderSpec("pcsc", VPCD_SECOND_READER),),
        camera=None, demo=True, sim_dir=sim_base, today=REFERENCE_DATE,
    ))
    yield made
    made.close()
    pcsc_stack.server.remove()
    pcsc_stack.second.remove()


def on_reader(stack: VirtualReaderStack, lane: Lane, world: SimWorld, name: str) -> VirtualCard:
    """Place fixture card `name` on the lane's reader and let the lane read it."""
    card = world.card(name)
    lane.session.ports.check_b = lambda: card.fixture.check_b  # the card front, read by the reader's camera
    place_card(stack, card, lane.label)
    lane.session.on_card_inserted()
    assert lane.session.reception.state is State.CHOOSING, lane.session.reception.message
    return card


def test_two_readers_two_lanes_a_pin_pad_open_on_one(desk, pcsc_stack, sim_base):
    one, two = desk.all_lanes()
    assert (one.label, two.label) == (VPCD_READER, VPCD_SECOND_READER)
    world = SimWorld(sim_base)
    on_reader(pcsc_stack, one, world, "elder-72")
    one.session.choose(AuthMethod.PIN)
    assert one.session.reception.state is State.PIN
    on_reader(pcsc_stack, two, world, "adult")
    assert two.session.confirm_unattended(AuthMethod.PIN, pin="1234").code == 1
    assert one.session.reception.state is State.PIN
    one.session.enter_pin("1234")
    one.session.answer_consent(frozenset())
    assert one.session.outcome.code == 1
    # each lane read its own card through its own reader
    assert one.session.info.certificate.serial != two.session.info.certificate.serial


def test_both_readers_confirm_at_once(desk, pcsc_stack, sim_base):
    one, two = desk.all_lanes()
    world = SimWorld(sim_base)
    on_reader(pcsc_stack, one, world, "elder-72")
    on_reader(pcsc_stack, two, world, "adult")
    codes: dict[int, int | None] = {}

    def confirm(lane: Lane) -> None:
        codes[lane.index] = lane.session.confirm_unattended(AuthMethod.VISUAL, staff_id="S001", visual_password="mokushi-2026").code

    workers = [threading.Thread(target=confirm, args=(lane,)) for lane in (one, two)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert codes == {0: 1, 1: 1}


def test_the_card_server_of_reader_2_gone_while_reader_1_completes(desk, pcsc_stack, sim_base):
    one, two = desk.all_lanes()
    world = SimWorld(sim_base)
    on_reader(pcsc_stack, one, world, "elder-72")
    one.session.choose(AuthMethod.PIN)
    card = on_reader(pcsc_stack, two, world, "adult")
    pcsc_stack.second.remove()  # reader 2's card goes, mid-confirmation
    outcome = two.session.confirm_unattended(AuthMethod.PIN, pin="1234")
    assert outcome.failure in (FailureName.CARD_REMOVED, FailureName.CARD_ERROR)
    one.session.enter_pin("1234")
    one.session.answer_consent(frozenset())
    assert one.session.outcome.code == 1
    # recovery on reader 2: the card is placed again
    place_card(pcsc_stack, card, VPCD_SECOND_READER)
    two.session.on_card_inserted()
    assert two.session.confirm_unattended(AuthMethod.PIN, pin="1234").code == 1

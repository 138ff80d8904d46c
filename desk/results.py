"""A confirmation's record and its result files as one unit.

The answer is written to the journal together with the confirmation (owed to the result folder,
`pending_exports`), then its files are written, then the journal is told it owes nothing more. A
crash or an unwritable `res/` in between leaves the answer in the journal; the next desk that
starts writes the files it finds owed (`deliver_owed`). The journal row names its files
(`result_stem`), so the レセコン's files and the journal can always be matched.
"""

from __future__ import annotations

import logging
from typing import Protocol

from desk.export import ExportError
from desk.journal import JournalError, JournalStore
from desk.journal_ops import ExportDoneOp
from desk.models import EligibilityReply
from desk.outbox import OutboxError
from desk.recorder import Recorder

__all__ = ["ResultFiles", "deliver", "deliver_owed", "owed"]

_log = logging.getLogger("madoguchi.desk")


class ResultFiles(Protocol):
    """The result folder the レセコン reads (desk/export.py ResultExporter)."""

    def identify(self, reply: EligibilityReply) -> EligibilityReply: ...

    def stem(self, reply: EligibilityReply) -> str: ...

    def has(self, stem: str) -> bool: ...

    def write(self, reply: EligibilityReply) -> object: ...


def owed(results: ResultFiles | None, reply: EligibilityReply | None) -> tuple[EligibilityReply | None, str | None]:
    """The reply with its file name fixed, and that name, before anything is recorded."""
    if results is None or reply is None:
        return reply, None
    reply = results.identify(reply)
    return reply, results.stem(reply)


def deliver(results: ResultFiles | None, recorder: Recorder, reply: EligibilityReply | None, stem: str | None) -> ExportError | None:
    """Write the files of an answer already recorded; None when done, else why (it stays owed)."""
    if results is None or reply is None or stem is None:
        return None
    try:
        results.write(reply)
    except ExportError as exc:
        _log.warning("result files not written, owed to the folder: %s", exc.title)
        return exc
    try:
        recorder.record(ExportDoneOp(stem=stem))
    except OutboxError:
        pass  # the files are there; a later start only finds them there and strikes them off
    return None


def deliver_owed(journal: JournalStore, results: ResultFiles) -> int:
    """At start: write the files of every answer recorded without them (a crash, a full disk).
    Returns how many were written; files already there are only struck off."""
    written = 0
    try:
        owed_now = journal.pending_exports()
    except JournalError:
        return 0  # a journal that cannot be read says so when it is used
    for stem, reply_json in owed_now:
        try:
            if not results.has(stem):
                results.write(EligibilityReply.model_validate_json(reply_json))
                written += 1
            journal.export_done(stem)
        except (ExportError, JournalError) as exc:
            _log.warning("owed result %s still not written: %s", stem, exc.title)
            break  # the folder or the journal is not back yet: try again next start
        except ValueError:  # a stored answer this version cannot read: left owed, never printed
            _log.error("owed result %s cannot be read back; left in the journal", stem)
    if written:
        _log.info("wrote %d result files a previous run owed", written)
    return written

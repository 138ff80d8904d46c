"""The `desk` sub-commands, one module each (see desk/cli.py), and the one error path they share.

Every command answers every bad input or fault with a Japanese title, a message and an exit code,
never a Python traceback:

    0  done (a confirmation that completed, whatever its outcome)
    1  a fault of the machine or its files: journal, result folder, config, reader, central system
    2  what was typed: an argument, a value, a file named on the command line
   70  an error the program did not expect (a defect): its details go to a crash report file
  130  interrupted (Ctrl+C)
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from reader.errors import InvalidInput
from reader.staff_facing import StaffFacingError, UsageError

__all__ = ["EXIT_BUG", "EXIT_FAULT", "EXIT_USAGE", "UsageError", "fail", "guarded", "os_error"]

EXIT_FAULT = 1
EXIT_USAGE = 2
EXIT_BUG = 70  # EX_SOFTWARE
EXIT_INTERRUPTED = 130


def fail(error: BaseException, code: int = EXIT_FAULT) -> int:
    """Tell the staff what went wrong (the error's Japanese title and message) on stderr."""
    print(f"{getattr(error, 'title', 'エラー')}: {error}", file=sys.stderr)
    return code


_OS_ERRORS = {
    errno.ENOSPC: ("ディスクの空きがありません", "ディスクがいっぱいです。不要なファイルを消すか、管理者に連絡してください。"),
    errno.EDQUOT: ("ディスクの空きがありません", "ディスクの使用量の上限に達しています。管理者に連絡してください。"),
    errno.EACCES: ("権限がありません", "このファイルやフォルダを読み書きする権限がありません。"),
    errno.EPERM: ("権限がありません", "この操作は許可されていません。"),
    errno.EROFS: ("書き込めません", "読み取り専用の場所には書き込めません。"),
    errno.ENOENT: ("ファイルがありません", "指定されたファイルやフォルダが見つかりません。"),
    errno.ENOTDIR: ("フォルダではありません", "フォルダの途中にファイルがあります。場所の指定を確認してください。"),
    errno.EISDIR: ("ファイルではありません", "ファイルの代わりにフォルダが指定されています。"),
    errno.ENAMETOOLONG: ("名前が長すぎます", "ファイル名が長すぎます。"),
    errno.EIO: ("読み書きに失敗しました", "ディスクの読み書きでエラーが起きました。ディスクを確認してください。"),
}


def os_error(exc: OSError) -> StaffFacingError:
    """An OSError as staff read it: what happened, to which file."""
    title, message = _OS_ERRORS.get(exc.errno or 0, ("ファイルを読み書きできません", "ファイルの読み書きでエラーが起きました。"))
    where = f"（{exc.filename}）" if exc.filename else ""
    return StaffFacingError(f"{message}{where} [{exc.strerror or exc}]", title)


def guarded(run: Callable[[], int]) -> int:
    """Run one command; whatever it raises ends as a title, a message and an exit code."""
    try:
        return run()
    except KeyboardInterrupt:
        print("中断しました。", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, InvalidInput) as exc:
        return fail(exc, EXIT_USAGE)
    except StaffFacingError as exc:
        return fail(exc, EXIT_FAULT)
    except OSError as exc:
        return fail(os_error(exc), EXIT_FAULT)
    except MemoryError:
        return fail(StaffFacingError("メモリが足りません。ほかのアプリを閉じてからやり直してください。", "メモリ不足"))
    except Exception as exc:  # a defect: the staff get a clear message, the maintainer a report
        report = _crash_report(exc)
        where = f"詳しい記録: {report}" if report else "詳しい記録は保存できませんでした。"
        print(
            f"予期しないエラー: {type(exc).__name__}: {str(exc)[:300]}\n"
            f"受付は記録済みのものを失っていません。同じ操作をもう一度試し、続く場合は管理者に連絡してください。{where}",
            file=sys.stderr,
        )
        return EXIT_BUG


def _crash_report(exc: BaseException) -> Path | None:
    """The traceback in a private file for the maintainer (never on the staff's screen)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    folder = Path(base) / "madoguchi" / "crash"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"crash-{dt.datetime.now():%Y%m%d-%H%M%S-%f}.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None

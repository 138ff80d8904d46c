"""The layers stay where the design puts them, checked from the source (lazy imports included):

- reader/ (cards, cameras, face matching) imports nothing from desk/ or sim/;
- sim/ supplies devices and the simulated central system: it never imports the session, the
  screen, the commands or the composition root;
- desk/tui/ imports nothing from sim/ (training reaches it through desk.training's protocol);
- outside sim/ itself, desk/wiring.py is the only module that imports both sim/ and reader.pcsc;
- desk/ outside desk/tui/ imports no UI or hardware library (checked by really importing it);
- only the PostgreSQL back end of the journal imports psycopg.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("reader", "desk", "sim")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in the file (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    return {
        _module_name(path): _imports(path)
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


GRAPH = _graph()


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _offenders(importers: str | tuple[str, ...], imported: tuple[str, ...]) -> dict[str, list[str]]:
    prefixes = (importers,) if isinstance(importers, str) else importers
    return {
        module: sorted(i for i in imports if _within(i, *imported))
        for module, imports in GRAPH.items()
        if _within(module, *prefixes) and any(_within(i, *imported) for i in imports)
    }


def test_the_scan_sees_imports_inside_functions():
    # desk.wiring imports sim lazily, inside functions: a scan that missed those would pass anything
    assert "sim.central" in GRAPH["desk.wiring"] and "reader.pcsc" in GRAPH["desk.wiring"]
    assert len(GRAPH) > 60


def test_reader_depends_on_nothing_above_it():
    assert _offenders("reader", ("desk", "sim")) == {}


def test_sim_builds_no_desk():
    assert _offenders("sim", ("desk.session", "desk.tui", "desk.wiring", "desk.commands", "desk.cli")) == {}


def test_the_screen_never_reaches_into_the_simulator():
    assert _offenders("desk.tui", ("sim",)) == {}


def test_only_the_composition_root_imports_both_the_simulator_and_pcsc():
    # (sim.pcscd, the virtual reader stack that serves cards to a real pcscd, is the simulator itself)
    both = {
        m for m, imports in GRAPH.items()
        if not _within(m, "sim") and any(_within(i, "sim") for i in imports) and "reader.pcsc" in imports
    }
    assert both == {"desk.wiring"}


def test_desk_domain_imports_no_ui_or_hardware_library():
    code = (
        "import sys, importlib, pkgutil, desk\n"
        "names = [m.name for m in pkgutil.walk_packages(desk.__path__, 'desk.')\n"
        "         if not m.name.startswith(('desk.tui', 'desk.__main__'))]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "bad = [n for n in ('textual', 'cv2', 'smartcard', 'face_recognition', 'dlib') if n in sys.modules]\n"
        "print(','.join(bad))\n"
        "print(','.join(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    bad, imported = out.stdout.splitlines()
    assert bad == ""
    # every module of desk/ outside the screen was really imported, the core ones included
    expected = {_module_name(p) for p in (ROOT / "desk").rglob("*.py")} - {"desk", "desk.__main__"}
    expected = {m for m in expected if not _within(m, "desk.tui")}
    assert set(imported.split(",")) == expected
    assert {"desk.session", "desk.flow", "desk.outcome", "desk.export", "desk.central", "desk.wiring"} <= expected


def test_only_the_postgresql_back_end_imports_psycopg():
    # the journal's storage sits behind desk/journal/store.py: one back end knows the database
    # library; the desk and a SQLite facility run without it
    assert set(_offenders(PACKAGES, ("psycopg",))) == {"desk.journal.postgres"}
    code = "import sys, desk.cli, desk.wiring, desk.session, desk.journal; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"

"""The key hints at the bottom of the reception screen, drawn as one line by one widget.

Textual's Footer is a container with a widget per key. The reception screen refreshes its
bindings on every busy/idle switch and every view it draws, and the stock Footer then remounts
every key (30-60 ms on the 2-core desk PC); even restyling the mounted keys in place cost 5-10 ms
of each refresh. One widget that redraws one line when the keys or their state change costs well
under a millisecond. It looks like the compact stock Footer: bold key, description, disabled keys
dimmed, the command palette key on the right; a click on a key presses it.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["KeyFooter"]


class KeyHint(NamedTuple):
    key: str
    display: str
    description: str
    enabled: bool


class KeyFooter(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-footer--key", "key-footer--description", "key-footer--edge"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .key-footer--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        .key-footer--description { color: $footer-description-foreground; background: $footer-description-background; }
        .key-footer--edge { color: $foreground 20%; }
    }
    """

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._hints: list[KeyHint] = []
        self._palette: KeyHint | None = None
        self._spans: list[tuple[int, int, KeyHint]] = []  # cells each key covers, from the last render
        self._styles: dict[tuple[str, bool], Style] = {}  # component styles, kept until the CSS changes

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen:
            return
        hints, palette = self._wanted()
        if (hints, palette) != (self._hints, self._palette):
            self._hints, self._palette = hints, palette
            self.refresh()

    def _wanted(self) -> tuple[list[KeyHint], KeyHint | None]:
        """The shown bindings in the stock Footer's order, the first binding per action."""
        active = self.screen.active_bindings
        hints: list[KeyHint] = []
        seen: set[str] = set()
        for _, binding, enabled, _tooltip in active.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            hints.append(self._hint(binding, enabled))
        palette = None
        if self.app.ENABLE_COMMAND_PALETTE and self.app.COMMAND_PALETTE_BINDING in active:
            _, binding, enabled, _ = active[self.app.COMMAND_PALETTE_BINDING]
            palette = self._hint(binding, enabled)
        return hints, palette

    def _hint(self, binding: Binding, enabled: bool) -> KeyHint:
        return KeyHint(binding.key, self.app.get_key_display(binding), binding.description, enabled)

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def _style(self, component: str, enabled: bool = True) -> Style:
        key = (component, enabled)
        if key not in self._styles:
            self._styles[key] = self.get_component_rich_style(component) + Style(dim=not enabled)
        return self._styles[key]

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="crop", end="")
        self._spans = []
        for hint in self._hints:
            self._append(line, hint)
            line.append(" ")
        if self._palette is not None:
            width = 1 + cell_len(self._palette.display) + 1 + cell_len(self._palette.description) + 1
            line.append(" " * max(self.size.width - cell_len(line.plain) - width, 1))
            line.append("▏", self._style("key-footer--edge"))
            self._append(line, self._palette)
        return line

    def _append(self, line: Text, hint: KeyHint) -> None:
        start = cell_len(line.plain)
        line.append(hint.display, self._style("key-footer--key", hint.enabled))
        if hint.description:
            line.append(" " + hint.description, self._style("key-footer--description", hint.enabled))
        self._spans.append((start, cell_len(line.plain), hint))

    def on_click(self, event: events.Click) -> None:
        # A click presses the key, as on the stock Footer; a disabled key only rings the bell.
        for start, end, hint in self._spans:
            if start <= event.x < end:
                if hint.enabled:
                    self.app.simulate_key(hint.key)
                else:
                    self.app.bell()
                return

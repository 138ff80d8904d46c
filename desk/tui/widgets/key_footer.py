"""Textual's Footer, minus the remount on every binding refresh.

The stock Footer recomposes (unmounts and mounts every key, CSS and all) each time the screen
calls `refresh_bindings`, which the reception screen does on every busy/idle switch and every
view it draws. On the 2-core desk PC that was 30-60 ms of the event loop per call, several
times per confirmation. Usually only which keys are enabled changes: then the keys already
mounted are dimmed or lit in place, and the footer is rebuilt only when the set of keys itself
changes. Looks the same as the stock Footer (the snapshots check it).
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

__all__ = ["KeyFooter"]


class KeyFooter(Footer):
    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._sync_pending = False

    def bindings_changed(self, screen: Screen) -> None:
        if not self._bindings_ready or not screen.app.app_focus:
            super().bindings_changed(screen)  # first fill, or what the stock footer does without focus
            return
        if self.is_attached and screen is self.screen and not self._sync_pending:
            # A burst of refreshes (busy off, view drawn, focus moved) costs one pass.
            self._sync_pending = True
            self.call_after_refresh(self._sync)

    def _sync(self) -> None:
        self._sync_pending = False
        wanted = self._wanted()
        keys = list(self.query_children(FooterKey))
        if wanted is None or [(k.key, k.action, k.description) for k in keys] != [w[:3] for w in wanted]:
            self.recompose()
            return
        for key, (*_, enabled) in zip(keys, wanted):
            # FooterKey keeps `_disabled` for its bell and draws the "-disabled" class dimmed.
            if key._disabled == enabled:
                key._disabled = not enabled
                key.set_class(not enabled, "-disabled")

    def _wanted(self) -> list[tuple[str, str, str, bool]] | None:
        """(key, action, description, enabled) per key, in the stock Footer's order; None when it
        would group keys (not used here: let it rebuild)."""
        active = self.screen.active_bindings
        out: list[tuple[str, str, str, bool]] = []
        seen: set[str] = set()
        for _, binding, enabled, _tooltip in active.values():
            if not binding.show:
                continue
            if binding.group is not None:
                return None
            if binding.action in seen:
                continue  # the stock footer shows the first binding per action
            seen.add(binding.action)
            out.append((binding.key, binding.action, binding.description, enabled))
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active.get(self.app.COMMAND_PALETTE_BINDING)
            if palette is not None:
                _, binding, enabled, _ = palette
                out.append((binding.key, binding.action, binding.description, enabled))
        return out

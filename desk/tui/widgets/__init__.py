"""Widgets of the reception screen. They show views and emit their own nested messages; none of
them touches the session or the hardware. Import them from their modules (this package stays
empty so that walking desk/ for the import-hygiene test does not load textual)."""

"""The reception screen (Textual). The only part of desk/ that imports textual."""

__all__ = ["DeskApp", "make_app"]


def __getattr__(name: str):
    # Lazy, so that `import desk.tui.view` in a worker does not pull the whole app in.
    if name in __all__:
        from desk.tui import app

        return getattr(app, name)
    raise AttributeError(name)

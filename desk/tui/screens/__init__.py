"""Screens of the desk app. Each runs its session calls in workers and shows what they post.
Import them from their modules (this package stays empty, see desk/tui/widgets/__init__.py)."""

"""Screens of the desk app. Each runs its session calls in workers and shows what they post."""

from desk.tui.screens.error import ErrorModal
from desk.tui.screens.history import HistoryScreen
from desk.tui.screens.numbers import NumbersScreen
from desk.tui.screens.reception import ReceptionScreen
from desk.tui.screens.training import TrainingChoice, TrainingScreen

__all__ = ["ErrorModal", "HistoryScreen", "NumbersScreen", "ReceptionScreen", "TrainingChoice", "TrainingScreen"]

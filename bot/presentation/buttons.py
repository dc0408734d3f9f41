"""The inline buttons' callback data, spelled once: each route makes its data and reads it back, and the
handler table beside the commands (bot/telegram/commands.py: BUTTONS) registers one handler per route."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ButtonRoute:
    prefix: str

    def data(self, value: object) -> str:
        return f"{self.prefix}:{value}"

    def value(self, data: str | None) -> str:
        """What a pressed button carries (its data without the prefix)."""
        return (data or "").removeprefix(f"{self.prefix}:")

    @property
    def pattern(self) -> str:
        return rf"^{self.prefix}:"


TOGGLE_TOPIC = ButtonRoute("toggle")  # the /subscribe keyboard: a topic on or off
SETTING = ButtonRoute("set")  # the /settings keyboard: digest, quiet hours
CHART = ButtonRoute("chart")  # under an answer: its chart
HISTORY = ButtonRoute("hist")  # under /history: the full detail

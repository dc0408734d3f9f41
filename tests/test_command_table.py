"""The command table is the one list: handlers, set_my_commands, /help and README.md follow it."""

from __future__ import annotations

import re
from pathlib import Path

from bot.telegram.commands import COMMANDS, help_text

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_command_is_documented_in_the_readme():
    documented = set(re.findall(r"`/([a-z_]+)", README))
    missing = [c.name for c in COMMANDS if c.name not in documented]
    assert not missing, f"commands missing from README.md: {missing}"


def test_names_are_unique_and_valid_for_telegram():
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9_]{1,32}", n) for n in names)
    assert all(3 <= len(c.help) <= 256 for c in COMMANDS)


def test_help_lists_admin_commands_to_admins_only():
    assert "/run" not in help_text(admin=False) and "/breadth" in help_text(admin=False)
    assert "/run" in help_text(admin=True) and "/stats" in help_text(admin=True)


def test_every_button_route_has_one_handler_and_its_wire_data_stays():
    """Buttons already sent sit in chats for months: their data ("toggle:rates") must keep routing."""
    from bot.presentation import buttons
    from bot.telegram.commands import BUTTONS

    routes = [value for value in vars(buttons).values() if isinstance(value, buttons.ButtonRoute)]
    assert sorted(r.prefix for r, _ in BUTTONS) == sorted(r.prefix for r in routes)
    assert len({r.prefix for r in routes}) == len(routes)
    assert {r.prefix for r in routes} == {"toggle", "set", "chart", "hist"}
    assert buttons.TOGGLE_TOPIC.value(buttons.TOGGLE_TOPIC.data("rates")) == "rates"

"""The runtime builds what a run needs once, before anything starts, and hands it down: `Services` is
frozen, its deliverer, pacing and polling watch are there from construction, and what changes while the
bot runs lives in one place, `services.state`."""

from __future__ import annotations

import dataclasses

import pytest

from bot.delivery.outgoing import AlertComposer
from bot.runtime.assembly import build_bot, build_services
from bot.runtime.config import load_config
from bot.telegram.state import BotState
from tests.bot_harness import make_folder


def test_services_cannot_be_reassigned_after_construction(tmp_path):
    services = build_services(load_config(rotation_data=make_folder(tmp_path / "data"),
                                          database_path=tmp_path / "bot.sqlite"))
    try:
        with pytest.raises(dataclasses.FrozenInstanceError):
            services.deliverer = None  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            services.leading = True  # type: ignore[attr-defined]  # run-time state is services.state's
        assert services.deliverer is None and services.pacing is None  # no sender: the outbox waits
        assert isinstance(services.state, BotState) and not services.state.leading
    finally:
        services.close()


def test_a_bot_is_wired_before_it_starts_and_talks_to_no_one_while_built(tmp_path):
    config = load_config(telegram_bot_token="123:ABC", telegram_api_url="http://127.0.0.1:9/bot",
                         rotation_data=make_folder(tmp_path / "data"), database_path=tmp_path / "bot.sqlite")
    services, application = build_bot(config)  # port 9 answers nobody: building asks Telegram nothing
    try:
        assert application.bot_data.services is services
        assert services.deliverer is not None and services.pacing is not None and services.listening is not None
        composer = services.deliverer.composer
        assert isinstance(composer, AlertComposer) and composer.charts is not None  # alert photos: its own charts
        assert application.handlers, "handlers registered when the services are handed down"
    finally:
        services.close()

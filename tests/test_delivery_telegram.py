"""Delivery against the fake Bot API's real failure answers, through python-telegram-bot's client."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest


from tests.bot_harness import announce_cut, make_folder, running_bot, until
from tests.outbox import outbox_rows

USER = 501


def outbox_row(store, *columns: str) -> tuple:
    """The one outbox row these tests queue, as the columns asked for."""
    (row,) = outbox_rows(store)
    return tuple(row[column] for column in columns)


def alerts(fake):
    return [m["text"] for m in fake.sent(USER) if "Fed cut" in m["text"]]


async def subscribed_tick(fake, services, clock=None):
    """USER subscribed; the deliverer on the test's clock (set to now), so backoffs pass when the test says."""
    if clock is not None:
        clock.now = datetime.now(timezone.utc) + timedelta(seconds=5)  # rows queued from now on are due
        services.deliverer.clock = clock
    services.deliverer.backoff_seconds = 0.2
    fake.push_message(USER, "/subscribe rates")
    await until(lambda: fake.sent(USER))


def test_a_proxy_page_answering_200_is_retried_and_never_recorded_as_sent(fake, tmp_path, clock):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            await subscribed_tick(fake, services, clock)
            fake.garble("sendMessage", chat_id=USER, times=3)  # a portal answers 200 with its own page
            announce_cut(folder)
            await services.tick("test")
            row = outbox_row(services.store, "status", "last_error")
            assert row[0] == "pending" and "not Telegram's" in row[1]
            for _ in range(6):
                clock.advance(60)  # past any backoff
                await services.deliverer.drain()
            row = outbox_row(services.store, "status", "attempts")
            assert row == ("sent", 4)
            assert len(alerts(fake)) == 1  # delivered once the portal let it through

    asyncio.run(scenario())


def test_a_bad_request_fails_at_once_and_the_chat_keeps_receiving(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            await subscribed_tick(fake, services)
            fake.fail("sendMessage", 400, "Bad Request: can't parse entities: unsupported start tag", chat_id=USER)
            announce_cut(folder)
            await services.tick("test")
            row = outbox_row(services.store, "status", "attempts", "last_error")
            assert row[0] == "failed" and row[1] == 1 and "parse entities" in row[2]
            fake.push_message(USER, "/status")
            await until(lambda: any("Status" in m["text"] for m in fake.sent(USER)))

    asyncio.run(scenario())


def test_telegram_unreachable_uses_up_no_attempts(fake, tmp_path, clock):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            await subscribed_tick(fake, services, clock)
            services.deliverer.backoff_cap_seconds = 0.1
            real_url = services.deliverer.sender._bot._base_url
            services.deliverer.sender._bot._base_url = "http://127.0.0.1:9/bot" + fake.token  # nothing listens
            announce_cut(folder)
            await services.tick("test")
            for _ in range(6):
                clock.advance(60)
                await services.deliverer.drain()
            row = outbox_row(services.store, "status", "attempts", "last_error")
            assert row[0] == "pending" and row[1] == 0 and row[2].startswith("unreachable")
            services.deliverer.sender._bot._base_url = real_url  # Telegram is back
            clock.advance(60)
            await services.deliverer.drain()
            assert len(alerts(fake)) == 1

    asyncio.run(scenario())


def test_sends_in_flight_spread_over_small_connection_pools():
    """httpcore scans a pool's every connection per request: 200 sends in flight go to the 64 pools of 4,
    the pool with the fewest in flight first, never 200 into one."""
    from bot.delivery.request import POOL_CONNECTIONS, TelegramRequest

    request = TelegramRequest(connection_pool_size=256)
    assert len(request._pools) == 256 // POOL_CONNECTIONS
    peak = [0] * len(request._pools)
    release = asyncio.Event()

    class Pool:
        def __init__(self, number: int) -> None:
            self.number, self.busy = number, 0

        async def do_request(self, url, method, request_data=None, **kwargs):
            self.busy += 1
            peak[self.number] = max(peak[self.number], self.busy)
            await release.wait()
            self.busy -= 1
            return 200, b'{"ok": true, "result": true}'

    request._pools = [Pool(number) for number in range(len(request._pools))]

    async def scenario():
        sends = [asyncio.create_task(request.do_request(f"https://x/bot1/sendMessage?{n}", "POST"))
                 for n in range(200)]
        await asyncio.sleep(0)
        assert request.in_flight == 200
        release.set()
        return await asyncio.gather(*sends)

    answers = asyncio.run(scenario())
    assert all(code == 200 for code, _ in answers) and request.in_flight == 0
    assert max(peak) <= POOL_CONNECTIONS and sum(1 for p in peak if p) == len(peak)


class _Clock:
    """A loop-free clock: sleeping moves it on."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_only_flagged_sends_take_the_paid_lane_and_replicas_share_the_limits():
    """Telegram lets only allow_paid_broadcast sends past its free ~30/s: replies and groups keep to the
    free rate when paid broadcast is on, and two replicas each pace at half of both."""
    from telegram.request import RequestData
    from telegram.request._requestparameter import RequestParameter

    from bot.delivery.pacing import Lane, PacedRequest

    clock = _Clock()
    request = PacedRequest(29.0, 950.0, connection_pool_size=4)
    request.free, request.paid = Lane(29.0, clock, clock.sleep), Lane(950.0, clock, clock.sleep)
    sent: list[tuple[float, bool]] = []

    class Pool:
        async def do_request(self, url, method, request_data=None, **kwargs):
            sent.append((clock.now, bool(request_data.parameters.get("allow_paid_broadcast"))))
            return 200, b'{"ok": true, "result": true}'

    request._pools = [Pool()]

    def data(paid: bool) -> RequestData:
        flag = [RequestParameter.from_input("allow_paid_broadcast", True)] if paid else []
        return RequestData([RequestParameter.from_input("chat_id", 5), *flag])

    async def send(count: int, paid: bool) -> list[float]:
        began = len(sent)
        for _ in range(count):
            await request.do_request("https://x/bot1/sendMessage", "POST", data(paid))
        return [at for at, _ in sent[began:]]

    def spacing(times: list[float]) -> float:
        return (times[-1] - times[0]) / (len(times) - 1)

    assert spacing(asyncio.run(send(96, paid=True))) == pytest.approx(1 / 950)
    assert spacing(asyncio.run(send(30, paid=False))) == pytest.approx(1 / 29)
    before = clock.now
    asyncio.run(request.do_request("https://x/bot1/getMe", "POST", data(False)))
    assert clock.now == before  # not a send: it waits for no slot
    request.share(2)
    assert spacing(asyncio.run(send(30, paid=True))) == pytest.approx(2 / 950)
    assert spacing(asyncio.run(send(10, paid=False))) == pytest.approx(2 / 29)
    request.share(3, free_senders=1)  # three replicas, only one of them sends free messages
    assert spacing(asyncio.run(send(30, paid=True))) == pytest.approx(3 / 950)
    assert spacing(asyncio.run(send(10, paid=False))) == pytest.approx(1 / 29)


@pytest.mark.parametrize("webhook, paid, expected", [(False, False, 1), (True, False, 3), (False, True, 3)])
def test_only_the_replicas_that_send_free_messages_share_the_free_rate(webhook, paid, expected):
    from bot.runtime.config import load_config
    from bot.runtime.replica import free_senders

    config = load_config(telegram_webhook_url="https://bot.example/hook" if webhook else None,
                         telegram_paid_broadcast=paid)
    assert free_senders(config, alive=3) == expected  # polling without paid: the leader alone, at 29/s

"""Bot benchmark against the fake Bot API on loopback: command latency and delivery throughput.

    python -m benchmarks.bench_bot [--chats 2000] [--askers 100] [--limit 30] [--paid] [--webapp]

1. /breadth latency: 100 chats send /breadth at once; p50/p95 of the time from the updates being
   queued to each reply arriving, against the floor the send rate sets (the k-th reply cannot leave
   before k / 29 s), and the latency of one chat asking alone.
2. Delivery: one signal to N subscribed chats while the fake server enforces `--limit` messages per
   second (answering 429 beyond it): achieved rate as a share of the limit, lost, duplicated, 429s.
   With --paid, TELEGRAM_PAID_BROADCAST=true against a server limit of 1,000/s (the paid ceiling).
   With --webapp, the dashboard serves on the bot's loop throughout, and during the delivery 5 page
   loads a second (overview, 5-year history, controls) ask it: the alert path beside the page's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.http_ceiling import measure
from bot.telegram.application import MESSAGES_PER_SECOND
from tests.bot_harness import announce_cut, make_folder, running_bot, until
from tests.fake_telegram import FakeTelegram


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def breadth_latency(fake: FakeTelegram, services, askers: int) -> tuple[list[float], list[float]]:
    first_chat = 10_000
    before = len(fake.calls)
    began = time.monotonic()
    for chat in range(first_chat, first_chat + askers):
        fake.push_message(chat, "/breadth")
    await until(lambda: len([c for c in fake.calls[before:] if c.method == "sendMessage"]) >= askers, timeout=60)
    latencies = [c.at - began for c in fake.calls[before:] if c.method == "sendMessage"]
    idle = []
    for _ in range(20):  # one asker at a time: the handler's own cost, no queueing behind the limit
        before = len(fake.calls)
        start = time.monotonic()
        fake.push_message(first_chat, "/breadth")
        await until(lambda mark=before: any(c.method == "sendMessage" for c in fake.calls[mark:]), every=0.001)
        idle.append(time.monotonic() - start)
    return latencies, idle


async def delivery(fake: FakeTelegram, services, folder: Path, chats: int, limit: float) -> dict[str, float]:
    first_chat = 100_000
    store = services.store
    for chat in range(first_chat, first_chat + chats):
        store.upsert_chat(chat)
        store.subscribe(chat, ["rates"])
    fake.rate_limit_per_second = limit
    announce_cut(folder)
    before = len(fake.calls)
    began = time.monotonic()
    await services.tick("benchmark")
    await until(lambda: store.stats()["deliveries"].get("pending", 0) == 0, timeout=chats / limit * 3 + 30)
    elapsed = time.monotonic() - began
    sends = [c for c in fake.calls[before:] if c.method in ("sendMessage", "sendPhoto")]
    ok = [c for c in sends if c.status == 200]
    per_chat = Counter(int(c.params["chat_id"]) for c in ok)
    window = ok[-1].at - ok[0].at if len(ok) > 1 else float("nan")
    return {
        "chats": chats,
        "delivered": len(per_chat),
        "lost": chats - len(per_chat),
        "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
        "rate_429": sum(1 for c in sends if c.status == 429),
        "seconds": elapsed,
        "rate": (len(ok) - 1) / window if len(ok) > 1 else float("nan"),
        "paid_flag": sum(1 for c in ok if str(c.params.get("allow_paid_broadcast")).lower() == "true"),
    }


async def page_loads(services, fake: FakeTelegram, stop: asyncio.Event, per_second: float = 5.0) -> list[float]:
    """Dashboard loads (its three API calls) at `per_second` until `stop`; the seconds each took."""
    import httpx

    from bot.webapp.init_data import user_init_data

    took: list[float] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{services.state.dashboard.port}",
                                 headers={"Accept-Encoding": "gzip"}, timeout=60) as client:
        async def load(user: int) -> None:  # each load a subscriber of its own, as in life
            headers = {"Authorization": "tma " + user_init_data(fake.token, user, "bench")}
            began = time.monotonic()
            answers = await asyncio.gather(*(client.get(path, headers=headers) for path in (
                "/api/overview", "/api/history?span=5y", "/api/controls")))
            assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]
            took.append(time.monotonic() - began)

        running: set[asyncio.Task] = set()
        user = 500_000
        while not stop.is_set():
            user += 1
            task = asyncio.ensure_future(load(user))
            running.add(task)
            task.add_done_callback(running.discard)
            try:
                await asyncio.wait_for(stop.wait(), 1 / per_second)
            except TimeoutError:
                pass
        await asyncio.gather(*running)
    return took


async def server_ceiling(fake: FakeTelegram, client: str = "threads") -> float:
    """The fake server's own ceiling: plain http.client threads, 200 posts in flight, from a process of
    their own (benchmarks/http_ceiling.py), so neither this process's GIL nor an HTTP client's pool is
    what is measured; the bot's paid rate is read against it in the same run."""
    return await asyncio.to_thread(measure, f"{fake.base_url}{fake.token}/sendMessage", client)


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as scratch, FakeTelegram() as fake:
        root = Path(scratch)
        folder = make_folder(root / "data")
        overrides: dict = {"telegram_paid_broadcast": True} if args.paid else {}
        if args.webapp:
            overrides.update(webapp_port=0, webapp_url="https://dashboard.example/app")
        async with running_bot(fake, folder, root / "bot.sqlite", config_overrides=overrides) as services:
            latencies, idle = await breadth_latency(fake, services, args.askers)
            stop = asyncio.Event()
            loads = asyncio.ensure_future(page_loads(services, fake, stop)) if args.webapp else None
            result = await delivery(fake, services, folder, args.chats, args.limit)
            stop.set()
            pages = await loads if loads is not None else []
            ceiling = await server_ceiling(fake) if args.paid else None
    # Replies leave evenly at MESSAGES_PER_SECOND: the k-th cannot leave before k / rate seconds.
    floor50, floor95 = 0.5 * args.askers / MESSAGES_PER_SECOND, 0.95 * args.askers / MESSAGES_PER_SECOND
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    print(f"/breadth, {args.askers} chats at once: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
          f"the floor set by the {MESSAGES_PER_SECOND:g}/s send rate: p50 {floor50 * 1000:.0f} ms, "
          f"p95 {floor95 * 1000:.0f} ms (ratio {p50 / floor50:.2f}, {p95 / floor95:.2f}); "
          f"one chat alone: p50 {statistics.median(idle) * 1000:.0f} ms")
    print(f"delivery of one signal to {result['chats']} chats, server limit {args.limit:g}/s: "
          f"{result['rate']:.1f} msg/s = {result['rate'] / args.limit:.1%} of the limit; "
          f"delivered {result['delivered']}, lost {result['lost']}, duplicates {result['duplicates']}, "
          f"429s {result['rate_429']}, {result['seconds']:.1f} s in all (tick included); "
          f"sent with allow_paid_broadcast: {result['paid_flag']}")
    if pages:
        print(f"dashboard during the delivery: {len(pages)} page loads (3 API calls each), p50 "
              f"{statistics.median(pages) * 1000:.0f} ms, p95 {percentile(pages, 0.95) * 1000:.0f} ms")
    if ceiling is not None:
        print(f"the fake server's own ceiling (http.client threads, 200 in flight, own process): {ceiling:.0f} "
              f"req/s; the bot's paid "
              f"fan-out reached {result['rate'] / ceiling:.2f}x of it")
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=2000)
    parser.add_argument("--askers", type=int, default=100)
    parser.add_argument("--limit", type=float, default=None,
                        help="server limit per second (default 30; 1000 with --paid)")
    parser.add_argument("--paid", action="store_true", help="TELEGRAM_PAID_BROADCAST=true")
    parser.add_argument("--webapp", action="store_true", help="the dashboard serving, and loaded, meanwhile")
    args = parser.parse_args(argv)
    if args.limit is None:
        args.limit = 1000.0 if args.paid else 30.0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())

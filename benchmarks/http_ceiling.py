"""How fast a client can post to the fake Bot API, in a process of its own (the fake's GIL is not shared).

    python -m benchmarks.http_ceiling URL [--client threads|one-pool|bot-pools] [--in-flight 200] [--sends 2000]

`threads` is http.client on as many threads as sends in flight: the server's own ceiling. `one-pool`
is one httpx pool holding every connection (PTB's default HTTPXRequest); `bot-pools` is the bot's
TelegramRequest, the same connections spread over small pools. Prints the rate, requests a second.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

CLIENTS = ("threads", "one-pool", "bot-pools")


def threads(url: str, in_flight: int, sends: int) -> float:
    import http.client

    parts = urlsplit(url)

    def worker(count: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port)
        for _ in range(count):
            connection.request("POST", parts.path, body="chat_id=900001&text=ceiling",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
            connection.getresponse().read()

    began = time.monotonic()
    with ThreadPoolExecutor(in_flight) as pool:
        list(pool.map(worker, [sends // in_flight] * in_flight))
    return (sends // in_flight * in_flight) / (time.monotonic() - began)


async def pooled(url: str, in_flight: int, sends: int, spread: bool) -> float:
    from telegram.request import HTTPXRequest, RequestData
    from telegram.request._requestparameter import RequestParameter

    from bot.delivery.request import TelegramRequest

    request = TelegramRequest(connection_pool_size=256) if spread else HTTPXRequest(connection_pool_size=256)
    await request.initialize()
    gate = asyncio.Semaphore(in_flight)

    async def one(number: int) -> None:
        data = RequestData([RequestParameter.from_input("chat_id", 900_000 + number),
                            RequestParameter.from_input("text", "ceiling")])
        async with gate:
            await request.do_request(url, "POST", data)

    began = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(sends)))
    rate = sends / (time.monotonic() - began)
    await request.shutdown()
    return rate


def measure(url: str, client: str, in_flight: int = 200, sends: int = 2000) -> float:
    """The rate of `client` against `url`, run in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.http_ceiling", url, "--client", client,
                          "--in-flight", str(in_flight), "--sends", str(sends)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--client", choices=CLIENTS, default="threads")
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--sends", type=int, default=2000)
    args = parser.parse_args(argv)
    if args.client == "threads":
        rate = threads(args.url, args.in_flight, args.sends)
    else:
        rate = asyncio.run(pooled(args.url, args.in_flight, args.sends, spread=args.client == "bot-pools"))
    print(f"{rate:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

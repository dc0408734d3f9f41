"""Dashboard benchmark on the real development data: what a phone downloads, and how soon it sees it.

    python -m benchmarks.bench_webapp [--data ../shared/data/market] [--runs 5] [--screenshots DIR]

1. The API on loopback: /api/overview and /api/history?span=5y|all, bytes as sent (gzip) and raw,
   latency of the first (built) and of later (cached) answers.
2. Debian's chromium (Playwright, `executable_path`) opening the page at phone size: first contentful
   paint and the moment every chart is drawn, median of `--runs` loads, against the same browser's
   first paint of a one-line page in the same run (the browser's own floor).
With --screenshots, README's two pictures are written there: the charts at 390x844 with a day tapped, and
the top of the page at 1280x800.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bot.runtime.config import load_config
from bot.runtime.assembly import build_services
from bot.webapp.init_data import user_init_data
from bot.webapp.links import dashboard_link
from bot.webapp.server import Dashboard

TOKEN = "1:bench-token"
USER = 7


async def api_numbers(base: str) -> list[str]:
    headers = {"Authorization": "tma " + user_init_data(TOKEN, USER, "bench"), "Accept-Encoding": "gzip"}
    lines = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for path in ("/api/overview", "/api/history?span=5y", "/api/history?span=all", "/api/controls"):
            times, sent, raw = [], 0, 0
            for _ in range(6):
                began = time.perf_counter()
                async with client.stream("GET", path) as response:
                    sent = sum([len(chunk) async for chunk in response.aiter_raw()])
                    assert response.status_code == 200, (path, response.status_code)
                times.append(time.perf_counter() - began)
            raw = len((await client.get(path)).content)
            lines.append(f"{path}: {sent / 1024:,.1f} KB sent (gzip), {raw / 1024:,.1f} KB raw; first "
                         f"{times[0] * 1000:,.0f} ms, then median {statistics.median(times[1:]) * 1000:,.1f} ms")
    return lines


async def browser_numbers(link: str, runs: int, shots: Path | None) -> list[str]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return ["no chromium on this machine: the browser part is skipped (apt-get install chromium)"]
    paint = "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
    lines = []
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            # the measuring script runs in the page: only this benchmark's context lifts the CSP for it
            context = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
            floor, first, drawn = [], [], []
            for _ in range(runs):
                page = await context.new_page()
                await page.goto("data:text/html,<p>one line</p>")
                await page.wait_for_function(paint)
                floor.append(await page.evaluate(paint))
                await page.close()
                page = await context.new_page()
                began = time.perf_counter()
                await page.goto(link)
                await page.wait_for_function("() => document.querySelectorAll('#charts .uplot').length >= 8")
                drawn.append((time.perf_counter() - began) * 1000)
                first.append(await page.evaluate(paint))
                await page.close()
            lines.append(f"first contentful paint, phone size: median {statistics.median(first):,.0f} ms of {runs} "
                         f"loads (the browser's floor, a one-line page: {statistics.median(floor):,.0f} ms, ratio "
                         f"{statistics.median(first) / statistics.median(floor):.1f}x)")
            lines.append(f"every chart drawn (5 years, both universes): median {statistics.median(drawn):,.0f} ms "
                         f"from navigation")
            if shots is not None:
                shots.mkdir(parents=True, exist_ok=True)
                for size, name in (((390, 844), "phone"), ((1280, 800), "desktop")):
                    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
                    await page.goto(link)
                    await page.locator("#charts .uplot").nth(7).wait_for()
                    await page.locator("#topics input").first.wait_for()
                    if name == "phone":  # the charts, a day of March 2020 read out in the bar above them
                        plot = page.locator("#charts .u-over").nth(1)
                        await page.evaluate("() => document.getElementById('history').scrollIntoView()")
                        box = await plot.bounding_box()
                        await page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.6)
                    await page.screenshot(path=str(shots / f"dashboard-{name}.png"))
                    await page.close()
                lines.append(f"screenshots written to {shots}")
        finally:
            await browser.close()
    return lines


async def main_async(args: argparse.Namespace) -> int:
    if not (args.data / "constituents.csv").exists():
        print(f"no data folder at {args.data}: the benchmark needs the development set", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        config = load_config(rotation_data=args.data, database_path=Path(scratch) / "bench.sqlite")
        services = build_services(config)
        try:
            began = time.perf_counter()
            await services.tick("benchmark")
            print(f"evaluated {services.store.latest_snapshot()['as_of']} in {time.perf_counter() - began:.1f} s")

            async def own_chat(chat_id: int, user_id: int) -> bool:
                return chat_id == user_id

            dashboard = Dashboard(services, TOKEN, own_chat)
            port = await dashboard.start("127.0.0.1", 0)
            try:
                base = f"http://127.0.0.1:{port}"
                for line in await api_numbers(base):
                    print(line)
                link = dashboard_link(base + "/", TOKEN, USER, "bench", minutes=30)
                for line in await browser_numbers(link, args.runs, args.screenshots):
                    print(line)
            finally:
                await dashboard.stop()
        finally:
            services.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "market")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--screenshots", type=Path, default=None)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

"""The dashboard in a real browser (Debian's chromium driven by Playwright) against the running bot and
the fake Bot API: the numbers on screen are `metrics --json`'s, a zoom and a tap change what is shown,
a topic ticked on the page is in /settings, a forged initData sees nothing. Screenshots at phone and
desktop size are written to DASHBOARD_SCREENSHOTS (default: the test's temporary folder)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from bot.webapp.links import dashboard_link
from tests.bot_harness import running_bot, until

playwright_api = pytest.importorskip("playwright.async_api",
                                     reason="playwright is not installed (pip install -e '.[dev]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)")]

USER = 601
WEBAPP = {"webapp_port": 0, "webapp_url": "https://dashboard.example/app"}
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}


def shown_number(text: str) -> float | None:
    """A reading as the page prints it ("1,163.6", "\u22123.6", "\u2013" for none) as a number."""
    text = text.strip()
    if text in ("\u2013", ""):
        return None
    return float(text.replace(",", "").replace("\u2212", "-"))


def reference_value(reference: dict, path: str):
    value = reference
    for part in path.split("."):
        value = value[part]
    return value


def assert_same_reading(path: str, text: str, expected) -> None:
    if text in ("yes", "no"):
        assert (text == "yes") == bool(expected), path
        return
    number = shown_number(text)
    if expected is None:
        assert number is None, f"{path}: page {text!r}, metrics --json null"
        return
    decimals = len(text.split(".")[1]) if "." in text else 0
    assert number is not None and abs(number - expected) <= 0.5 * 10 ** -decimals + 1e-9, \
        f"{path}: page {text!r}, metrics --json {expected}"


def test_the_dashboard_in_chromium(fake, folder, tmp_path, capsys):
    from tests.test_webapp import metrics_json  # the page's numbers are checked against the command's

    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite", config_overrides=WEBAPP) as services:
            base = f"http://127.0.0.1:{services.state.dashboard.port}/"
            link = dashboard_link(base, fake.token, USER, "Ann", minutes=10)
            async with playwright_api.async_playwright() as driver:
                browser = await driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                try:
                    return await in_the_browser(browser, link, services, shots)
                finally:
                    await browser.close()

    async def in_the_browser(browser, link, services, shots):
        found = {}
        page = await browser.new_page(viewport=PHONE)
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        await page.goto(link)
        await page.wait_for_selector("#charts .uplot")
        await page.locator("#topics input").first.wait_for()
        found["readings"] = await page.eval_on_selector_all(
            "[data-path]", "cells => cells.map(c => [c.dataset.path, c.textContent])")
        found["headline"] = await page.eval_on_selector_all("#headline li", "items => items.map(i => i.textContent)")
        found["as_of"] = await page.text_content("#as-of")
        found["charts"] = await page.locator("#charts .uplot").count()
        await page.screenshot(path=str(shots / "dashboard-phone.png"))

        # a zoom: drag across the first chart; every chart then shows the same shorter span
        found["range_before"] = await page.text_content("#range")
        plot = page.locator("#charts .u-over").nth(1)
        await plot.scroll_into_view_if_needed()
        box = await plot.bounding_box()
        await page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] / 2, steps=8)
        await page.mouse.up()
        found["range_after"] = await page.text_content("#range")
        # a tap on a day: the readout names that session and its numbers
        found["day_before"] = await page.text_content("#day-date")
        await page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
        found["day_after"] = await page.text_content("#day-date")
        found["day_numbers"] = await page.locator("#day dd").count()

        # a topic ticked on the page, then /settings in the chat
        await page.get_by_label("Rates").check()
        await playwright_api.expect(page.locator("#control-message")).to_have_text(re.compile(r"^Subscribed: rates"))
        fake.push_message(USER, "/settings")
        found["settings"] = await until(lambda: [m["text"] for m in fake.sent(USER)
                                                 if m["text"].startswith("<b>Settings</b>")])
        # and the reverse: a chat command, then the page loaded again
        fake.push_message(USER, "/digest on")
        await until(lambda: services.store.chat_settings(USER).digest)
        await page.reload()
        await page.locator("#topics input").first.wait_for()
        found["digest_box"] = await page.is_checked("#digest")

        desktop = await browser.new_page(viewport=DESKTOP)
        await desktop.goto(link)
        await desktop.wait_for_selector("#charts .uplot")
        await desktop.screenshot(path=str(shots / "dashboard-desktop.png"))

        forged = await browser.new_page(viewport=PHONE)
        answers: list[int] = []
        forged.on("response", lambda response: answers.append(response.status) if "/api/" in response.url else None)
        await forged.goto(re.sub(r"hash%3D[0-9a-f]{8}", "hash%3D00000000", link))
        await forged.wait_for_selector("#denied:not([hidden])")
        found["forged_text"] = await forged.text_content("#denied-text")
        found["forged_cells"] = await forged.locator("[data-path]").count()
        found["forged_answers"] = answers
        found["problems"] = problems
        return found

    found = asyncio.run(scenario())
    as_of = found["as_of"].removeprefix("Session of ")
    reference = metrics_json(folder, as_of, capsys)
    assert found["problems"] == []
    assert found["charts"] >= 8
    assert len(found["readings"]) >= 40
    for path, text in found["readings"]:
        assert_same_reading(path, text, reference_value(reference, path))
    assert all(line.strip() for line in found["headline"]) and len(found["headline"]) >= 3
    assert found["range_after"] != found["range_before"]
    before = re.findall(r"\d{4}-\d{2}-\d{2}", found["range_before"])
    after = re.findall(r"\d{4}-\d{2}-\d{2}", found["range_after"])
    assert before[0] < after[0] < after[1] < before[1] and before[1] == as_of
    assert found["day_after"] and found["day_after"] != found["day_before"] and found["day_numbers"] >= 15
    assert "Topics: rates" in found["settings"][0]
    assert found["digest_box"] is True
    assert "Open the dashboard from the bot" in found["forged_text"] and found["forged_cells"] == 0
    assert found["forged_answers"] and set(found["forged_answers"]) == {401}
    assert (shots / "dashboard-phone.png").stat().st_size > 10_000
    assert (shots / "dashboard-desktop.png").stat().st_size > 10_000

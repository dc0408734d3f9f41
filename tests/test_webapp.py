"""The dashboard's server: Telegram's initData checked as Telegram specifies, and the /api/ behind it,
served by the running bot (real python-telegram-bot against the fake Bot API) from its own store."""

from __future__ import annotations

import asyncio
import gzip
import json
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from bot.runtime.cli import main
from bot.webapp.init_data import InvalidInitData, sign_init_data, user_init_data, validate_init_data
from bot.webapp.server import MAX_BODY_BYTES, Dashboard, RequestBudget
from tests.bot_harness import running_bot, until
from tests.fake_telegram import FakeTelegram

USER, GROUP, ADMIN, MEMBER = 501, -5001, 502, 503
WEBAPP = {"webapp_port": 0, "webapp_url": "https://dashboard.example/app"}

# An initData signed by independent code (Node's crypto module, not this project's), fields as Telegram
# sends them: secret = HMAC_SHA256(key "WebAppData", token), hash = hex HMAC_SHA256(secret, check string).
VECTOR_TOKEN = "123456:TEST-token_for_vectors"
VECTOR_FIELDS = {"auth_date": "1700000000", "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
                 "user": '{"id":279058397,"first_name":"Vlad"}'}
VECTOR_HASH = "080fa6e957a0ab084f3a1492bdd4762f2e8891984ea5b05bf26cfb94e621273d"


def test_init_data_signed_by_independent_code_is_accepted():
    init_data = urlencode({**VECTOR_FIELDS, "hash": VECTOR_HASH})
    user = validate_init_data(init_data, VECTOR_TOKEN, max_age_seconds=86_400, now=1_700_000_100)
    assert (user.user_id, user.first_name, user.auth_date) == (279058397, "Vlad", 1_700_000_000)
    assert dict(parse_qsl(sign_init_data(VECTOR_TOKEN, VECTOR_FIELDS)))["hash"] == VECTOR_HASH


@pytest.mark.parametrize("case", ["changed user", "other token", "no hash", "twice", "too old", "from the future",
                                  "expired link", "no user", "too long", "empty"])
def test_forged_stale_or_malformed_init_data_is_refused(case):
    now = 1_700_000_100
    fields = dict(VECTOR_FIELDS)
    init_data = urlencode({**fields, "hash": VECTOR_HASH})
    token, max_age = VECTOR_TOKEN, 86_400
    if case == "changed user":
        init_data = init_data.replace("279058397", "279058398")
    elif case == "other token":
        token = "654321:another-bot"
    elif case == "no hash":
        init_data = urlencode(fields)
    elif case == "twice":
        init_data += "&auth_date=1700000000"
    elif case == "too old":
        now = 1_700_000_000 + 86_401
    elif case == "from the future":
        now = 1_700_000_000 - 120
    elif case == "expired link":
        init_data = user_init_data(token, 7, "Ann", now=now - 600, valid_seconds=300)
    elif case == "no user":
        init_data = sign_init_data(token, {"auth_date": str(now)})
    elif case == "too long":
        init_data = sign_init_data(token, {"auth_date": str(now), "user": '{"id":1}', "pad": "x" * 5000})
    elif case == "empty":
        init_data = ""
    with pytest.raises(InvalidInitData):
        validate_init_data(init_data, token, max_age, now=now)


def test_a_link_signed_for_minutes_works_until_it_expires():
    link = user_init_data(VECTOR_TOKEN, 7, "Ann", now=1_000_000, valid_seconds=900)
    assert validate_init_data(link, VECTOR_TOKEN, 86_400, now=1_000_000 + 899).user_id == 7
    with pytest.raises(InvalidInitData, match="expired"):
        validate_init_data(link, VECTOR_TOKEN, 86_400, now=1_000_000 + 901)


def auth(fake: FakeTelegram, user_id: int = USER) -> dict[str, str]:
    return {"Authorization": "tma " + user_init_data(fake.token, user_id, f"user{user_id}")}


def metrics_json(folder, as_of: str, capsys) -> dict:
    assert main(["metrics", "--data", str(folder), "--as-of", as_of, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_api_answers_only_signed_requests_with_what_metrics_json_says(fake, folder, tmp_path, capsys):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite", config_overrides=WEBAPP) as services:
            base = f"http://127.0.0.1:{services.state.dashboard.port}"
            async with httpx.AsyncClient(base_url=base) as client:
                page = await client.get("/")
                assert page.status_code == 200 and "app.js" in page.text
                assert "default-src 'self'" in page.headers["content-security-policy"]
                script = await client.get("/static/app.js")
                assert script.status_code == 200 and "script-src 'self'" in script.headers["content-security-policy"]
                assert (await client.get("/static/../server.py")).status_code in (403, 404)

                for headers in ({}, {"Authorization": "tma nonsense"},
                                {"Authorization": "tma " + user_init_data("1:other-bot", USER)}):
                    refused = await client.get("/api/overview", headers=headers)
                    assert refused.status_code == 401 and set(refused.json()) == {"error"}
                    assert "Open the dashboard from the bot" in refused.json()["error"]

                overview = (await client.get("/api/overview", headers=auth(fake))).json()
                history = await client.get("/api/history?span=1y", headers={**auth(fake), "Accept-Encoding": "gzip"})
                bad_span = await client.get("/api/history?span=forever", headers=auth(fake))
                return overview, history, bad_span, services.store.latest_snapshot()

    overview, history, bad_span, snapshot = asyncio.run(scenario())
    assert fake.token not in json.dumps(overview) + history.text  # the page never sees the token
    reference = metrics_json(folder, overview["as_of"], capsys)
    for group in ("breadth", "breakout", "rates", "sectors", "credit", "cycle", "universes"):
        assert overview["metrics"][group] == reference[group], group
    assert overview["as_of"] == snapshot["as_of"] == reference["as_of"]
    assert [a["key"] for a in overview["active"]] == list(snapshot["active"])
    assert history.status_code == 200 and history.headers.get("content-encoding") == "gzip"
    body = history.json()
    assert len(body["time"]) == min(252, body["available"]) and body["time"] == sorted(body["time"])
    closes = body["universes"]["sp500"]["index_close"]
    assert len(closes) == len(body["time"]) and closes[-1] == round(reference["universes"]["sp500"]["index_close"], 2)
    assert bad_span.status_code == 400 and "1y, 5y, all" in bad_span.json()["error"]


def test_a_change_on_the_page_is_what_the_chat_shows_and_back(fake, folder, tmp_path):
    def texts(chat_id: int) -> list[str]:
        return [m["text"] for m in fake.sent(chat_id)]

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite", config_overrides=WEBAPP) as services:
            base = f"http://127.0.0.1:{services.state.dashboard.port}"
            async with httpx.AsyncClient(base_url=base, headers=auth(fake)) as client:
                shown = (await client.get("/api/controls")).json()
                assert shown["chat"] == USER and shown["topics"] == [] and shown["digest"] is False

                changed = (await client.post("/api/controls", json={"action": "topic", "value": "rates", "on": True}))
                assert changed.status_code == 200 and "Subscribed: rates" in changed.json()["message"]
                assert (await client.post("/api/controls", json={"action": "digest", "value": True})).status_code == 200
                quiet = await client.post("/api/controls", json={"action": "quiet", "value": "22:00-07:00"})
                assert quiet.status_code == 200
                assert quiet.json()["controls"]["quiet"] == {"start": "22:00", "end": "07:00"}
                nonsense = await client.post("/api/controls", json={"action": "quiet", "value": "teatime"})
                assert nonsense.status_code == 422 and "two clock times" in nonsense.json()["message"]
                zone = await client.post("/api/controls", json={"action": "timezone", "value": "mars/olympus"})
                assert zone.status_code == 422 and "IANA" in zone.json()["message"]
                path = "universes.sp500.pct_above_20dma"
                rule = {"path": path, "op": "above", "threshold": "60"}
                alert = await client.post("/api/controls", json={"action": "alert_add", "value": rule})
                assert alert.status_code == 200, alert.json()
                rule = {"path": "nope.x", "op": "above", "threshold": "1"}
                unknown = await client.post("/api/controls", json={"action": "alert_add", "value": rule})
                assert unknown.status_code == 422 and unknown.json()["message"].startswith("No alert:")
                assert (await client.post("/api/controls", content=b"[1, 2")).status_code == 400
                assert (await client.post("/api/controls", json={"action": "shutdown"})).status_code == 422

                fake.push_message(USER, "/settings")
                settings = await until(lambda: [t for t in texts(USER) if t.startswith("<b>Settings</b>")])
                fake.push_message(USER, "/alerts")
                alerts = await until(lambda: [t for t in texts(USER) if path in t])
                fake.push_message(USER, "/subscribe breadth")
                await until(lambda: "breadth" in services.store.subscriptions(USER))
                after = (await client.get("/api/controls")).json()
                return settings[0], alerts[0], after

    settings, alerts, after = asyncio.run(scenario())
    assert "Digest: on" in settings and "22:00" in settings and "07:00" in settings
    assert "above 60" in alerts
    assert after["topics"] == ["breadth", "rates"] and after["alerts"][0]["path"] == "universes.sp500.pct_above_20dma"


def test_a_group_is_changed_only_by_its_administrators(fake, folder, tmp_path):
    fake.admins[GROUP] = {ADMIN}

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite", config_overrides=WEBAPP) as services:
            fake.push_message(GROUP, "/start", user_id=ADMIN, chat_type="group")
            await until(lambda: services.store.chat(GROUP))
            base = f"http://127.0.0.1:{services.state.dashboard.port}"
            async with httpx.AsyncClient(base_url=base) as client:
                member = await client.post("/api/controls", headers=auth(fake, MEMBER),
                                           json={"chat": GROUP, "action": "topic", "value": "rates", "on": True})
                stranger = await client.get("/api/controls?chat=-999", headers=auth(fake, ADMIN))
                admin = await client.post("/api/controls", headers=auth(fake, ADMIN),
                                          json={"chat": GROUP, "action": "topic", "value": "rates", "on": True})
                return member, stranger, admin, services.store.subscriptions(GROUP)

    member, stranger, admin, subscribed = asyncio.run(scenario())
    assert member.status_code == 403 and "administrators" in member.json()["error"]
    assert stranger.status_code == 403  # a chat the bot does not know: no Telegram call, no answer
    assert admin.status_code == 200 and subscribed == {"rates"}
    asked = [call.params for call in fake.calls_of("getChatMember")]
    assert {"chat_id": str(GROUP), "user_id": str(MEMBER)} in [{k: str(v) for k, v in p.items()} for p in asked]


def test_the_menu_button_and_the_dashboard_button_open_the_page(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite", config_overrides=WEBAPP) as services:
            fake.push_message(USER, "/start")
            fake.push_message(USER, "/breadth")
            fake.push_message(GROUP, "/breadth", user_id=USER, chat_type="group")
            await until(lambda: len(fake.sent(USER)) >= 2 and fake.sent(GROUP))
            return services

    asyncio.run(scenario())
    menu = fake.calls_of("setChatMenuButton")
    assert menu and "https://dashboard.example/app" in json.dumps(menu[0].params)

    def buttons(message: dict) -> str:
        markup = message.get("reply_markup")
        return markup if isinstance(markup, str) else json.dumps(markup)

    private = [buttons(m) for m in fake.sent(USER)]
    assert all('"web_app"' in b and "https://dashboard.example/app" in b for b in private)
    assert all('"web_app"' not in buttons(m) for m in fake.sent(GROUP))  # Telegram refuses web_app buttons there


class _Source:
    """The least a Dashboard reads, for what the bot around it does not change."""

    def __init__(self, store):
        self.store = store

    async def snapshot(self, wait_seconds: float = 0.0):
        return self.store.latest_snapshot()

    async def latest_metrics(self):
        return None


def test_each_user_has_a_budget_and_a_body_has_a_cap(tmp_path):
    from bot.storage import open_store

    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    token = "77:budget-token"

    async def scenario():
        store = open_store(tmp_path / "budget.sqlite")
        dashboard = Dashboard(_Source(store), token, may_change=lambda chat, user: asyncio.sleep(0, False),
                              budget=RequestBudget(per_minute=3, clock=clock))
        port = await dashboard.start("127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                ann = {"Authorization": "tma " + user_init_data(token, 1, "Ann")}
                bob = {"Authorization": "tma " + user_init_data(token, 2, "Bob")}
                first = [(await client.get("/api/overview", headers=ann)).status_code for _ in range(4)]
                other = (await client.get("/api/overview", headers=bob)).status_code
                clock.now = 20.0  # a third of a minute refills one request
                refilled = (await client.get("/api/overview", headers=ann)).status_code
                padded = b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}"
                huge = await client.post("/api/controls", headers=bob, content=padded)
                try:
                    endless = (await client.post("/api/controls", headers=bob, content=b" " * 300_000)).status_code
                except httpx.TransportError:  # refused before it was read: what a client sees depends on timing
                    endless = 400
                return first, other, refilled, huge, endless
        finally:
            await dashboard.stop()
            store.close()

    first, other, refilled, huge, endless = asyncio.run(scenario())
    assert first == [503, 503, 503, 429]  # no reading stored yet: said, and counted
    assert other == 503 and refilled == 503
    assert huge.status_code == 413 and "larger than 16 KB" in huge.json()["error"]
    assert endless == 400


def test_five_years_of_history_stay_small(real_market, market_path, tmp_path):
    """What a phone downloads for the 5Y charts: well under 200 KB compressed on the real data set."""
    from bot.webapp.payloads import history
    from signals.engine import MetricsEngine
    from signals.settings import load_detector_settings

    metrics = MetricsEngine(load_detector_settings(None)).compute(real_market)
    body = json.dumps(history(metrics, [], "5y"), separators=(",", ":")).encode()
    assert len(history(metrics, [], "5y")["time"]) == 1260
    assert len(gzip.compress(body)) < 200_000


def test_webapp_link_opens_the_page_as_that_user_for_minutes(capsys, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", VECTOR_TOKEN)
    monkeypatch.setenv("WEBAPP_URL", "https://dashboard.example/app")
    assert main(["webapp-link", "--chat", "42", "--minutes", "5"]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("https://dashboard.example/app/#tgWebAppData=")
    fragment = dict(parse_qsl(link.split("#", 1)[1]))
    user = validate_init_data(fragment["tgWebAppData"], VECTOR_TOKEN, 86_400)
    assert user.user_id == 42 and VECTOR_TOKEN not in link
    expires = int(dict(parse_qsl(fragment["tgWebAppData"]))["expires"])
    assert 290 <= expires - user.auth_date <= 300
    assert main(["webapp-link", "--chat", "-100500"]) == 1  # a group's link needs its administrator
    assert "--user ID" in capsys.readouterr().err
    assert main(["webapp-link", "--chat", "-100500", "--user", "42"]) == 0
    group = dict(parse_qsl(dict(parse_qsl(capsys.readouterr().out.strip().split("#", 1)[1]))["tgWebAppData"]))
    assert group["start_param"] == "c-100500"
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    assert main(["webapp-link", "--chat", "42"]) == 1 and "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


@pytest.mark.slow
def test_the_demo_serves_its_dashboard_with_a_signed_link_until_interrupted(tmp_path):
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ROTATION_DATA"))}
    environment.update(WEBAPP_PORT="0", PYTHONUNBUFFERED="1")
    demo = subprocess.Popen([sys.executable, "-m", "bot.runtime.cli", "demo", "--from", "2024-03-04", "--charts",
                             str(tmp_path / "charts")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=environment, cwd=tmp_path)
    try:
        link = None
        deadline = time.monotonic() + 120
        while link is None and time.monotonic() < deadline:
            line = demo.stdout.readline()
            assert line, "the demo ended without serving its dashboard"
            found = re.search(r"http://127\.0\.0\.1:\d+/#\S+", line)
            link = found.group() if found else None
        assert link is not None
        init_data = dict(parse_qsl(link.split("#", 1)[1]))["tgWebAppData"]
        base = link.split("#", 1)[0]
        overview = httpx.get(base + "api/overview", headers={"Authorization": "tma " + init_data}, timeout=30)
        refused = httpx.get(base + "api/overview", timeout=30)
        assert overview.status_code == 200 and overview.json()["as_of"] == "2024-03-08"
        assert refused.status_code == 401
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()

"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests and benchmarks.

The real python-telegram-bot client talks to it over HTTP through `base_url`. It serves updates
through `getUpdates`, answers the methods the bot calls, records every request, and injects faults
on request: error answers (429 with retry_after, 5xx, 403, 400 ...), slow answers, and an optional
rate limit that answers 429 when more messages than allowed arrive within a second.
"""

from __future__ import annotations

import itertools
import json
import random
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

BOT_ID = 4242
BOT_USERNAME = "rotation_test_bot"
SENDS = ("sendMessage", "sendPhoto")  # what delivers a message to a chat
CHAOS_KINDS = ("429", "500", "502", "garbled", "drop-before", "drop-after")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    client: str | None = None  # who called, where several bots share the server (`base_url_for`)


@dataclass
class Fault:
    method: str
    status: int
    description: str
    parameters: dict[str, Any] | None = None
    chat_id: int | None = None
    remaining: int = 1
    raw: bytes | None = None  # answer these bytes as they are (a proxy's HTML page with status 200)
    until: float | None = None  # time.monotonic() until which the fault answers every call (times ignored)


@dataclass
class FakeTelegram:
    token: str = "4242:fake-token-of-the-test-server"
    calls: list[Call] = field(default_factory=list)
    rate_limit_per_second: float | None = None
    delays: dict[str, float] = field(default_factory=dict)
    admins: dict[int, set[int]] = field(default_factory=dict)  # chat id -> admin user ids
    channels: dict[str, int] = field(default_factory=dict)  # public @name -> id of a channel the bot may post in
    forums: dict[int, set[int]] = field(default_factory=dict)  # forum supergroup id -> its topics' thread ids

    def __post_init__(self) -> None:
        self._chaos: tuple[float, random.Random, tuple[str, ...]] | None = None
        self._proxy: tuple[float, float, random.Random] | None = None
        self.chaos_counts: dict[str, int] = {}
        self._lock = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._faults: list[Fault] = []
        self._recent_sends: deque[float] = deque()
        self.rate_limited = 0
        self._last_pushed = 0  # the last update id pushed
        self._confirmed = 0  # the highest offset a getUpdates asked for: updates below it were received
        self._poll_generation = 0  # bumped by every getUpdates: an older one still waiting is ended
        self.conflicts = 0  # getUpdates ended by a newer one (Telegram answers the older 409 Conflict)
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FakeTelegram:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._lock.notify_all()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/bot"

    def base_url_for(self, client: str) -> str:
        """The same server under a name: calls through it are recorded with `client` (several bots, one token)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{client}/bot"

    # scripting ------------------------------------------------------------------------------

    def push_message(self, chat_id: int, text: str, user_id: int | None = None, chat_type: str = "private",
                     title: str | None = None, thread_id: int | None = None) -> None:
        """A user's message; in a forum group (`forums`), `thread_id` is the topic it was written in
        (None: the General topic, whose messages carry no thread, as Telegram sends them)."""
        self._push(self._message_update(chat_id, text, user_id, chat_type, title, thread_id))

    def post_message(self, url: str, chat_id: int, text: str, secret: str | None = None) -> int:
        """A user's message as Telegram delivers it in webhook mode: POSTed to `url` (with the secret header
        Telegram sends back when setWebhook gave one); returns the HTTP status the bot answered."""
        import httpx

        update = self._message_update(chat_id, text)
        update["update_id"] = next(self._update_ids)
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        return httpx.post(url, json=update, headers=headers, timeout=10).status_code

    def _message_update(self, chat_id: int, text: str, user_id: int | None = None, chat_type: str = "private",
                        title: str | None = None, thread_id: int | None = None) -> dict[str, Any]:
        user_id = user_id if user_id is not None else chat_id
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"user{user_id}"
        else:
            chat["title"] = title or f"group{chat_id}"
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}, "text": text,
        }
        self._in_forum(message, thread_id)
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"message": message}

    def push_callback(self, chat_id: int, data: str, user_id: int | None = None, chat_type: str = "private",
                      thread_id: int | None = None) -> None:
        user_id = user_id if user_id is not None else chat_id
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": chat_type, "title": "g"}, "text": "buttons"}
        self._in_forum(message, thread_id)
        self._push({"callback_query": {
            "id": str(next(self._message_ids)), "chat_instance": "ci",
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}, "data": data,
            "message": message,
        }})

    def _in_forum(self, message: dict[str, Any], thread_id: int | None) -> None:
        """Mark a message of a forum group as Telegram does: the chat is_forum, a topic's messages carry
        message_thread_id and is_topic_message."""
        if message["chat"]["id"] not in self.forums:
            return
        message["chat"]["is_forum"] = True
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True

    def push_inline_callback(self, data: str, user_id: int) -> None:
        """A button on a message sent in inline mode: the callback has no message, hence no chat."""
        self._push({"callback_query": {
            "id": str(next(self._message_ids)), "chat_instance": "ci", "inline_message_id": "AAA-inline",
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}, "data": data}})

    def push_inline_query(self, user_id: int, query: str) -> None:
        """`@bot <query>` typed in any chat: an inline query, which has no chat."""
        self._push({"inline_query": {"id": str(next(self._message_ids)), "query": query, "offset": "",
                                     "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}}})

    def push_channel_post(self, channel_id: int, text: str) -> None:
        post: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                                "chat": {"id": channel_id, "type": "channel", "title": "a channel"},
                                "sender_chat": {"id": channel_id, "type": "channel", "title": "a channel"},
                                "text": text}
        if text.startswith("/"):
            post["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        self._push({"channel_post": post})

    def fail(self, method: str, status: int, description: str, *, retry_after: int | None = None,
             migrate_to: int | None = None, chat_id: int | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) get this error answer."""
        parameters: dict[str, Any] = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to is not None:
            parameters["migrate_to_chat_id"] = migrate_to
        with self._lock:
            self._faults.append(Fault(method, status, description, parameters or None, chat_id, times))

    def fail_for(self, method: str, status: int, description: str, seconds: float) -> None:
        """Every call of `method` (every send, for "send") gets this error answer for `seconds`."""
        with self._lock:
            self._faults.append(Fault(SENDS[0] if method == "send" else method, status, description,
                                      until=time.monotonic() + seconds))

    def heal(self) -> None:
        """Every scripted fault ends now: Telegram is back."""
        with self._lock:
            self._faults.clear()
            self._proxy = None

    def garble(self, method: str, *, chat_id: int | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` get a 200 answer that is an HTML page: a proxy or a captive
        portal answered instead of Telegram, so nothing was delivered."""
        with self._lock:
            self._faults.append(Fault(method, 200, "garbled", None, chat_id, times,
                                      raw=b"<html><body>Gateway says hello</body></html>"))

    def proxy_window(self, seconds: float, share: float = 1.0, seed: int = 3) -> None:
        """For the next `seconds`, a `share` of sends is answered 200 with a proxy's HTML page (nothing sent)."""
        with self._lock:
            self._proxy = (time.monotonic() + seconds, share, random.Random(seed))

    def chaos(self, rate: float, seed: int = 1, kinds: tuple[str, ...] = CHAOS_KINDS) -> None:
        """From now on a `rate` share of sendMessage calls fail at random, as Telegram and networks do:
        429 with retry_after, 500, 502, a proxy's HTML page answering 200 (nothing sent), a connection
        dropped before or after the message was sent."""
        with self._lock:
            self._chaos = (rate, random.Random(seed), kinds)

    def _chaos_fault(self, call: Call, params: dict[str, Any]) -> tuple[int, Any] | None:
        if self._chaos is None or call.method not in SENDS:
            return None
        rate, rng, kinds = self._chaos
        if rng.random() >= rate:
            return None
        kind = rng.choice(kinds)
        self.chaos_counts[kind] = self.chaos_counts.get(kind, 0) + 1
        if kind == "429":
            call.status = 429
            return 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                         "parameters": {"retry_after": 1}}
        if kind in ("500", "502"):
            call.status = int(kind)
            return int(kind), {"ok": False, "error_code": int(kind), "description": "Internal Server Error"}
        if kind == "garbled":
            call.status = -200  # a 200 from a proxy: nothing reached the chat
            return 200, b"<html>proxy</html>"
        if kind == "drop-after":
            self._result(call.method, params)  # Telegram sent it; the answer never arrives
            call.status = 200
            return 0, b""
        call.status = 0
        return 0, b""  # dropped before Telegram saw it

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent successfully (optionally to one chat); a photo's caption is its "text"."""
        with self._lock:
            calls = [c for c in self.calls if c.method in SENDS and c.status == 200
                     and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)]
        return [c.params if c.method == "sendMessage" else {**c.params, "text": c.params.get("caption", "")}
                for c in calls]

    def calls_of(self, method: str) -> list[Call]:
        """Calls of `method`; "send" means every call that delivers a message (sendMessage, sendPhoto)."""
        methods = SENDS if method == "send" else (method,)
        with self._lock:
            return [c for c in self.calls if c.method in methods]

    # serving --------------------------------------------------------------------------------

    def received_all(self) -> bool:
        """Every update pushed so far was fetched, and confirmed by a later getUpdates' offset."""
        with self._lock:
            return self._last_pushed == 0 or self._confirmed > self._last_pushed

    def _push(self, update: dict[str, Any]) -> None:
        with self._lock:
            update["update_id"] = self._last_pushed = next(self._update_ids)
            self._updates.append(update)
            self._lock.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                client, found, method = self.path.rpartition(f"/bot{fake.token}/")
                if not found:
                    return self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                params = _parse(body, self.headers.get("Content-Type", ""))
                status, payload = fake._dispatch(method, params, client.strip("/") or None)
                if status == 0:  # a dropped connection: no answer at all
                    self.close_connection = True
                    self.request.shutdown(socket.SHUT_RDWR)
                    return None
                if isinstance(payload, bytes):
                    return self._answer_raw(status, payload)
                self._answer(status, payload)

            do_GET = do_POST  # noqa: N815

            def _answer_raw(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _dispatch(self, method: str, params: dict[str, Any], client: str | None = None
                  ) -> tuple[int, dict[str, Any]]:
        delay = self.delays.get(method)
        if delay:
            time.sleep(delay)
        call = Call(method, params, time.monotonic(), client=client)
        with self._lock:
            self.calls.append(call)
            chaotic = self._chaos_fault(call, params)
            if chaotic is not None:
                return chaotic  # type: ignore[return-value]
            fault = self._take_fault(method, params)
            if fault is None and method in SENDS and self.rate_limit_per_second:
                fault = self._over_rate_limit(call.at)
        if fault is None and method in SENDS and self._proxied():
            call.status = -200
            return 200, b"<html><body>Please log in to the hotel Wi-Fi</body></html>"  # type: ignore[return-value]
        if fault is not None and fault.raw is not None:
            call.status = -fault.status  # a proxy's page, whatever its status: not Telegram, nothing sent
            return fault.status, fault.raw  # type: ignore[return-value]
        if fault is not None:
            call.status = fault.status
            payload: dict[str, Any] = {"ok": False, "error_code": fault.status, "description": fault.description}
            if fault.parameters:
                payload["parameters"] = fault.parameters
            return fault.status, payload
        if method in SENDS and params.get("message_thread_id") is not None:
            chat_id, thread = int(params.get("chat_id") or 0), int(params["message_thread_id"])
            if thread not in self.forums.get(chat_id, set()):
                call.status = 400
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message thread not found"}
        if method == "getUpdates":
            updates = self._get_updates(params)
            if updates is None:  # a newer getUpdates came: Telegram ends this one
                call.status = 409
                return 409, {"ok": False, "error_code": 409, "description": "Conflict: terminated by other "
                             "getUpdates request; make sure that only one bot instance is running"}
            return 200, {"ok": True, "result": updates}
        if method == "getChat":
            wanted = str(params.get("chat_id", ""))
            ids = {str(i): i for i in (*self.channels.values(), *self.forums)}
            chat_id = self.channels.get(wanted, ids.get(wanted))
            if chat_id is None:
                call.status = 400
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            forum = {"type": "supergroup", "is_forum": True} if chat_id in self.forums else {"type": "channel"}
            return 200, {"ok": True, "result": {"id": chat_id, "title": f"channel {wanted}", **forum,
                                                "accent_color_id": 0, "max_reaction_count": 11}}
        return 200, {"ok": True, "result": self._result(method, params)}

    def _proxied(self) -> bool:
        if self._proxy is None:
            return False
        until, share, rng = self._proxy
        return time.monotonic() < until and rng.random() < share

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        for fault in self._faults:
            same = fault.method == method or (fault.method in SENDS and method in SENDS)  # a send is a send
            if not same:
                continue
            if fault.until is not None:
                if time.monotonic() < fault.until:
                    return fault
                continue
            if fault.remaining <= 0:
                continue
            if fault.chat_id is not None and int(params.get("chat_id", 0)) != fault.chat_id:
                continue
            fault.remaining -= 1
            return fault
        return None

    def _over_rate_limit(self, now: float) -> Fault | None:
        window = self._recent_sends
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= (self.rate_limit_per_second or 0):
            self.rate_limited += 1
            return Fault("sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1})
        window.append(now)
        return None

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The updates from `offset` (a long poll of at most a second); None when a newer poll ended this one."""
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 1.0)
        deadline = time.monotonic() + timeout
        with self._lock:
            self._confirmed = max(self._confirmed, offset)
            self._poll_generation += 1
            mine = self._poll_generation
            self._lock.notify_all()
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline and self._poll_generation == mine:
                self._lock.wait(deadline - time.monotonic())
            if self._poll_generation != mine:
                self.conflicts += 1
                return None
            return list(self._updates)

    def pollers(self) -> list[str]:
        """The clients that polled, in the order their polling began and ended: a client appearing twice
        with another between means two polled at once."""
        order: list[str] = []
        for call in self.calls_of("getUpdates"):
            if call.client is not None and (not order or order[-1] != call.client):
                order.append(call.client)
        return order

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        now = int(time.time())
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Rotation", "username": BOT_USERNAME,
                    "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
        if method == "sendPhoto":
            chat_id = int(params.get("chat_id") or 0)
            return {"message_id": next(self._message_ids), "date": now, "caption": params.get("caption", ""),
                    "chat": {"id": chat_id, "type": _chat_type(chat_id, self.channels)},
                    "photo": [{"file_id": "photo1", "file_unique_id": "u1", "width": 900, "height": 600}]}
        if method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            chat_id = int(params.get("chat_id") or 0)
            return {"message_id": next(self._message_ids), "date": now,
                    "chat": {"id": chat_id, "type": _chat_type(chat_id, self.channels)},
                    "text": params.get("text", "")}
        if method == "getChatMember":
            chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
            status = "administrator" if user_id in self.admins.get(chat_id, set()) else "member"
            member: dict[str, Any] = {"status": status,
                                      "user": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}}
            if status == "administrator":
                member.update({key: True for key in (
                    "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                    "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
                    "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories")})
            return member
        return True  # setMyCommands, deleteWebhook, answerCallbackQuery, close, ...


def _chat_type(chat_id: int, channels: dict[str, int]) -> str:
    return "private" if chat_id > 0 else "channel" if chat_id in channels.values() else "supergroup"


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (the bot stopping, a timeout) is normal here, not a traceback.

    The listen backlog is Telegram-sized: the socketserver default of 5 resets connections when a
    paid broadcast keeps 200 sends in flight, which would measure the fake, not the bot.
    """

    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    """PTB sends form fields (JSON-encoded where structured); JSON bodies are accepted too."""
    if not body:
        return {}
    if "application/json" in content_type:
        return json.loads(body)
    if "multipart/form-data" in content_type:
        return _parse_multipart(body, content_type)
    fields = {key: values[-1] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}
    for key, value in fields.items():
        if value[:1] in "[{":
            try:
                fields[key] = json.loads(value)
            except ValueError:
                pass
    return fields


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """Form fields as text; an uploaded file as {"filename", "size", "png"} (PTB sends photos this way)."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            fields[name] = {"filename": part.get_filename(), "size": len(payload),
                            "png": payload.startswith(b"\x89PNG\r\n\x1a\n")}
        else:
            fields[name] = payload.decode()
    return fields

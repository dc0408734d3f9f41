"""Fair share between chats: a chat flooding commands is told once to slow down, and served at its share.

Every reply to a group waits for Telegram's per-group limit (20 a minute) while holding one of the
application's concurrent handler slots; 300 queued commands from one group once made another
chat's /help wait 65 s. Commands beyond a chat's budget are therefore dropped before any handler
runs, with one polite notice per window, so no chat can occupy the bot. The notice waits for the
answers the chat was admitted (ThrottledUpdates counts them out): "slow down" before the first
answer reads as if nothing would come.
"""

from __future__ import annotations

from typing import Any

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, SimpleUpdateProcessor


@dataclass
class ChatThrottle:
    per_minute_private: int = 20
    per_minute_group: int = 10  # Telegram lets the bot answer a group 20 times a minute
    window_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[int, deque[float]] = field(default_factory=dict)
    _warned: dict[int, float] = field(default_factory=dict)
    _answering: dict[int, int] = field(default_factory=dict)  # chat -> admitted updates not yet handled
    _counted: dict[int, int] = field(default_factory=dict)  # update id -> its chat, while it is handled
    _answered: dict[int, asyncio.Event] = field(default_factory=dict)  # set when a chat's count is 0

    def admit(self, chat_id: int, group: bool) -> str:
        """"ok", "warn" (over budget: say so once) or "drop" (over budget, already told)."""
        now = self.clock()
        recent = self._seen.setdefault(chat_id, deque())
        while recent and now - recent[0] >= self.window_seconds:
            recent.popleft()
        budget = self.per_minute_group if group else self.per_minute_private
        if len(recent) < budget:
            recent.append(now)
            return "ok"
        if now - self._warned.get(chat_id, -self.window_seconds) >= self.window_seconds:
            self._warned[chat_id] = now
            return "warn"
        return "drop"

    def handling(self, update_id: int, chat_id: int) -> None:
        """An admitted update of `chat_id` is being handled (until `handled`)."""
        self._counted[update_id] = chat_id
        self._answering[chat_id] = self._answering.get(chat_id, 0) + 1

    def handled(self, update_id: int) -> None:
        chat_id = self._counted.pop(update_id, None)
        if chat_id is None:
            return
        left = self._answering.get(chat_id, 1) - 1
        if left > 0:
            self._answering[chat_id] = left
            return
        self._answering.pop(chat_id, None)
        event = self._answered.pop(chat_id, None)
        if event is not None:
            event.set()

    async def after_answers(self, chat_id: int, timeout: float) -> None:
        """Until the chat's admitted updates are handled (at most `timeout` seconds)."""
        if not self._answering.get(chat_id):
            return
        event = self._answered.setdefault(chat_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass

    def wait_seconds(self, chat_id: int) -> int:
        recent = self._seen.get(chat_id)
        if not recent:
            return 0
        return max(1, int(self.window_seconds - (self.clock() - recent[0])) + 1)

    def forget_idle(self) -> None:
        """Drop chats quiet for a whole window (memory stays bounded by the chats active in a minute)."""
        now = self.clock()
        for chat_id in [c for c, seen in self._seen.items() if not seen or now - seen[-1] >= self.window_seconds]:
            self._seen.pop(chat_id, None)
            self._warned.pop(chat_id, None)


def throttle_handler(throttle: ChatThrottle) -> Callable[[Update, object], Coroutine[Any, Any, None]]:
    """A TypeHandler callback for the group before all others: over-budget updates stop there."""

    async def check(update: Update, context: object) -> None:  # the context is not needed here
        chat = update.effective_chat
        message = update.effective_message
        is_command = bool(message and message.text and message.text.startswith("/"))
        talking = bool(message and message.text and chat is not None and chat.type == ChatType.PRIVATE)
        if chat is None or not (is_command or talking or update.callback_query is not None):
            return
        group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        verdict = throttle.admit(chat.id, group)
        if verdict == "ok":
            throttle.handling(update.update_id, chat.id)
            return
        if verdict == "warn" and message is not None:
            await throttle.after_answers(chat.id, timeout=throttle.window_seconds)
            budget = throttle.per_minute_group if group else throttle.per_minute_private
            await message.reply_text(f"Slow down, please: I answer at most {budget} commands a minute here. "
                                     f"Ask again in {throttle.wait_seconds(chat.id)} s.")
        if update.callback_query is not None:
            await update.callback_query.answer("Slow down, please.")
        raise ApplicationHandlerStop

    return check


class ThrottledUpdates(SimpleUpdateProcessor):
    """PTB's concurrent processing, telling the throttle when each update's handling is over."""

    __slots__ = ("throttle",)

    def __init__(self, throttle: ChatThrottle, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self.throttle = throttle

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await coroutine
        finally:
            if isinstance(update, Update):
                self.throttle.handled(update.update_id)

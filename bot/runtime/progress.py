"""A progress bar for long commands: one redrawn line in a terminal, plain lines otherwise (logs, CI)."""

from __future__ import annotations

import time
from typing import TextIO


class ProgressLine:
    def __init__(self, stream: TextIO, width: int = 30, every_seconds: float = 5.0) -> None:
        self.stream = stream
        self.width = width
        self.every_seconds = every_seconds
        self.tty = stream.isatty()
        self._last_plain = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int, label: str = "") -> None:
        share = done / total if total else 1.0
        if self.tty:
            filled = int(share * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r[{bar}] {done}/{total} tickers {label[:24]:<24}")
            self.stream.flush()
            self._drawn = True
            return
        now = time.monotonic()
        if done >= total or now - self._last_plain >= self.every_seconds:
            self._last_plain = now
            self.stream.write(f"progress: {done}/{total} tickers ({share:.0%})\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()

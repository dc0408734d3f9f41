"""The type check is part of the suite: strict mypy over signals/ and bot/ (pyproject's [tool.mypy]),
zero errors, every `type: ignore` naming its error code and saying why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.storage.protocol import Store

ROOT = Path(__file__).resolve().parent.parent


def test_signals_and_bot_type_check_strictly_with_no_errors():
    api = pytest.importorskip("mypy.api", reason="mypy is in the dev extra: pip install -e '.[dev]'")
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--no-incremental",
                                str(ROOT / "signals"), str(ROOT / "bot")])
    assert status == 0, out + err


def test_every_type_ignore_names_its_code_and_its_reason():
    bare = []
    for path in [*(ROOT / "signals").rglob("*.py"), *(ROOT / "bot").rglob("*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "type: ignore" in line and not re.search(r"type: ignore\[[a-z-, ]+\]  # \S", line):
                bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert bare == []


def test_both_engines_declare_the_store_and_an_incomplete_one_fails_where_it_is_made():
    from bot.storage.postgres import PostgresStore
    from bot.storage.sqlite import SqliteStore

    for engine in (SqliteStore, PostgresStore):
        assert Store in engine.__mro__ and not engine.__abstractmethods__, engine

    class HalfAStore(Store):
        def close(self) -> None:
            pass

    with pytest.raises(TypeError, match="abstract"):
        HalfAStore()  # type: ignore[abstract]  # the point of the test: an incomplete engine cannot be made

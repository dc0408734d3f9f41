"""`rotation-bot chart NAME --out FILE.png`: a real PNG for each chart, as of a date; bad names refused."""

from __future__ import annotations

import pytest

from bot.charts import CHARTS
from bot.cli import CHART_NAMES, main
from tests.test_cli import folder  # noqa: F401 - the shared data folder fixture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_cli_names_match_the_charts():
    assert set(CHART_NAMES) == set(CHARTS)


@pytest.mark.parametrize("name", CHART_NAMES)
def test_each_chart_is_a_png(folder, tmp_path, capsys, name):  # noqa: F811
    out = tmp_path / "charts" / f"{name}.png"
    assert main(["chart", name, "--out", str(out), "--data", str(folder), "--as-of", "2021-01-29"]) == 0
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    assert "as of 2021-01-29" in capsys.readouterr().out


def test_unknown_chart_lists_the_valid_names(folder, tmp_path, capsys):  # noqa: F811
    with pytest.raises(SystemExit) as caught:
        main(["chart", "moon", "--out", str(tmp_path / "x.png"), "--data", str(folder)])
    assert caught.value.code == 2
    assert "breadth" in capsys.readouterr().err

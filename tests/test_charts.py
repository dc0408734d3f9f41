"""`rotation-bot chart NAME --out FILE.png`: a real PNG for each chart, as of a date; bad names refused."""

from __future__ import annotations

import pytest

from bot.presentation.topics import CHARTS
from bot.runtime.cli import CHART_NAMES, main
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


def test_the_file_format_follows_the_name_asked_for(folder, tmp_path, capsys):  # noqa: F811
    jpeg = tmp_path / "breadth.JPG"
    assert main(["chart", "breadth", "--out", str(jpeg), "--data", str(folder), "--as-of", "2021-01-29"]) == 0
    assert jpeg.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG's start of image, not PNG bytes under its name
    capsys.readouterr()
    assert main(["chart", "breadth", "--out", str(tmp_path / "breadth.gif"), "--data", str(folder)]) == 1
    assert capsys.readouterr().err.strip() == (f"rotation-bot: error: --out {tmp_path / 'breadth.gif'}: the chart is "
                                               "written as .png or .jpg (got .gif)")


def test_unknown_chart_lists_the_valid_names(folder, tmp_path, capsys):  # noqa: F811
    with pytest.raises(SystemExit) as caught:
        main(["chart", "moon", "--out", str(tmp_path / "x.png"), "--data", str(folder)])
    assert caught.value.code == 2
    assert "breadth" in capsys.readouterr().err


def _png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _metrics():
    from signals.metrics import compute_metrics
    from tests.test_no_lookahead import SYNTHETIC

    return compute_metrics(SYNTHETIC)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_every_chart_is_phone_shaped_with_labelled_thresholds_and_legends_outside_the_data(name):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from bot.presentation.charts import render_chart
    from signals.settings import load_detector_settings

    settings = load_detector_settings()
    metrics = _metrics()
    width, height = _png_size(render_chart(name, metrics, settings))
    assert width == 960 and height >= 1200  # portrait: Telegram shows it ~390 pt wide on a phone
    figure = Figure(figsize=(6, 7.6), dpi=160)
    FigureCanvasAgg(figure)
    reading = CHARTS[name].draw(figure, metrics, settings)
    assert reading is not None and reading.headline and "nan" not in reading.headline
    figure.canvas.draw()
    for axes in figure.axes:
        legend = axes.get_legend()
        if legend is not None:  # above its panel, never over the data
            assert legend.get_window_extent().y0 >= axes.get_window_extent().y1 - 2
        assert axes.get_ylabel() or axes.get_title(loc="left")  # every panel says what it shows
    thresholds = [t.get_text() for axes in figure.axes for t in axes.texts]
    if name != "sectors":  # it marks its levels as lines named in its legend
        assert thresholds and all(any(ch.isdigit() for ch in text) for text in thresholds)  # each with its value


def test_too_little_history_is_a_card_not_an_empty_frame():
    from bot.presentation.charts import render_chart
    from signals.metrics import compute_metrics
    from signals.settings import load_detector_settings
    from tests.test_no_lookahead import SYNTHETIC

    short = compute_metrics(SYNTHETIC.as_of(SYNTHETIC.sessions[30]))
    width, height = _png_size(render_chart("breadth", short, load_detector_settings()))
    assert (width, height) == (960, 512)


def test_charts_never_touch_pyplot():
    import subprocess
    import sys

    code = ("import sys; from bot.presentation.charts import render_chart; "
            "from signals.metrics import compute_metrics; "
            "from tests.test_no_lookahead import SYNTHETIC; from signals.settings import load_detector_settings; "
            "render_chart('rates', compute_metrics(SYNTHETIC), load_detector_settings()); "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


RECENT_SESSIONS = 60


def _drawn(name: str, metrics):
    from bot.presentation.charts import draw_chart
    from signals.settings import load_detector_settings

    figure = draw_chart(name, metrics, load_detector_settings())
    assert figure is not None
    figure.canvas.draw()
    return figure


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_threshold_labels_cover_no_line_of_the_newest_sessions(name, real_market):
    """On the real data's last year: no label sits over a point of the last 60 sessions of any line."""
    import numpy as np

    from signals.metrics import compute_metrics

    figure = _drawn(name, compute_metrics(real_market))
    renderer = figure.canvas.get_renderer()
    for axes in figure.axes:
        lines = [line for line in axes.get_lines() if len(line.get_xdata()) > 2]
        for label in axes.texts:
            box = label.get_window_extent(renderer)
            for line in lines:
                recent = axes.transData.transform(line.get_xydata()[-RECENT_SESSIONS:])
                recent = recent[~np.isnan(recent).any(axis=1)]
                inside = ((recent[:, 0] >= box.x0) & (recent[:, 0] <= box.x1) & (recent[:, 1] >= box.y0)
                          & (recent[:, 1] <= box.y1))
                assert not inside.any(), f"{name}: {label.get_text()!r} covers {line.get_label()!r}"


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_every_year_on_the_time_axis_is_labelled(name, real_market):
    from signals.metrics import compute_metrics

    import matplotlib.dates as mdates

    figure = _drawn(name, compute_metrics(real_market.as_of("2023-06-30")))
    axes = figure.axes[-1]
    labels = " ".join(tick.get_text() for tick in axes.get_xticklabels())
    first, last = (mdates.num2date(x) for x in axes.get_xlim())
    # a year's chart names its first year too; a history of years (the cycle) names each year it shows whole
    years = range(first.year if last.year - first.year <= 2 else first.year + 1, last.year + 1)
    assert len(years) >= 2 and all(str(year) in labels for year in years), labels


def test_each_chart_lists_only_the_signals_it_shows(real_market):
    """Small caps left behind reads the Russell 2000: the S&P 500 chart must not list it as its own."""
    from bot.presentation.topics.chart_parts import active_names as _active
    from signals.metrics import compute_metrics
    from signals.settings import load_detector_settings

    metrics, settings = compute_metrics(real_market), load_detector_settings()
    assert "small caps left behind" in _active(metrics, settings, "russell2000")
    assert "small caps left behind" not in _active(metrics, settings, "breadth")


def test_the_small_cap_chart_draws_the_index_threshold_on_the_sp500(real_market):
    from signals.metrics import compute_metrics

    figure = _drawn("russell2000", compute_metrics(real_market))
    top = figure.axes[0]
    assert [line.get_label() for line in top.get_lines() if len(line.get_xdata()) > 2][0] == "S&P 500 index"
    assert any(text.get_text().startswith("S&P 500 near high") for text in top.texts)


def test_a_breadth_chart_without_its_list_says_that_and_not_too_little_history(tmp_path):
    from bot.presentation.charts import _why_not_drawn
    from signals.engine import MetricsEngine
    from signals.settings import load_detector_settings
    from signals.sources.folder import load_folder
    from tests.bot_harness import make_folder

    data = make_folder(tmp_path / "data")
    (data / "constituents.csv").unlink()
    metrics = MetricsEngine(load_detector_settings()).compute(load_folder(data))
    assert _why_not_drawn("breadth", metrics).startswith("No S&P 500 members with prices: the data has no S&P "
                                                         "500 list (constituents.csv")
    assert _why_not_drawn("breakout", metrics).startswith("Not enough history")  # 40 sessions: too few

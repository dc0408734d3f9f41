"""One scheduled tick: refresh data, evaluate, store the snapshot and the new signals with their deliveries.

Blocking (pandas) work: the bot runs it in a worker thread so commands keep answering. A tick is
safe to repeat: signals are unique on (key, date, direction), so re-running a session, or resuming
one a crash interrupted, never alerts twice.
"""

from __future__ import annotations

from typing import Any

import logging
from dataclasses import dataclass, field, replace

import pandas as pd

from bot.presentation.custom_alert_rules import evaluate_custom_alerts
from bot.runtime.feeds import DataFeed, FeedUpdate
from bot.presentation.messages import picture_lines, plural
from bot.presentation.render import warning_lines
from bot.storage import Store
from signals.engine import MetricsEngine
from signals.evaluate import Evaluation, evaluate
from signals.detectors import KEY_TOPICS, Analysis
from signals.metrics import compute_metrics
from signals.replay import track_records
from signals.market_data import MarketData
from signals.metrics import Metrics
from signals.settings import DetectorSettings
from signals.signal import Signal
from signals.topics import INDEX_LEVEL_TOPICS

log = logging.getLogger(__name__)

# How many missed sessions a restart catches up at most (older edges are history, not news).
CATCH_UP_SESSIONS = 10


@dataclass(frozen=True)
class TickResult:
    run_id: int
    as_of: str
    new_signals: list[Signal]
    notes: tuple[str, ...] = field(default=())
    outcome: str = "ok"  # "ok", or "stale" / "partial": metrics stored, no detector fired
    metrics: Metrics | None = field(default=None, repr=False, compare=False)  # kept in memory for /chart
    found_in_history: int = 0  # signals a fresh bot recorded from the history it started with (not sent)


def run_tick(
    store: Store,
    feed: DataFeed,
    settings: DetectorSettings,
    as_of: str | None = None,
    trigger: str = "schedule",
    expected_session: str | None = None,
    engine: MetricsEngine | None = None,
    retention_days: float = 30.0,
) -> TickResult:
    """Refresh the feed, evaluate as of `as_of` (default: the data's last session), record what is new.

    Signals dated after the last session a successful run evaluated are recorded too (at most
    CATCH_UP_SESSIONS back), so sessions missed while the bot was down, or while the data was
    stale, still alert. On stale or partial data the metrics are stored but no detector fires.
    """
    run_id = store.start_run(trigger)
    try:
        update = feed.update(expected_session)
        data = feed.load()
        if expected_session and update.outcome == "complete" and \
                data.last_session.strftime("%Y-%m-%d") < expected_session:
            # one rule for both paths: a session the loader held back (most files lack it) is not "now"
            held = [str(issue) for issue in data.issues if "held back" in issue.message]
            update = FeedUpdate("stale", tuple(update.notes) + tuple(held or [
                f"the data ends {data.last_session:%Y-%m-%d}, before the {expected_session} session"]))
        warnings = warning_lines(data.issues)
        if warnings:  # said once per tick: damaged or missing files must never pass in silence
            log.warning("tick %s: %d data warning%s: %s", run_id, len(warnings), "" if len(warnings) == 1 else "s",
                        "; ".join(warnings[:10]) + (f"; and {len(warnings) - 10} more" if len(warnings) > 10 else ""))
        session = data.session_with_data(as_of)
        after = _catch_up_from(store, data, session)
        evaluation = evaluate(data, settings, as_of=session, after=after, engine=engine)
        notes = tuple(update.notes) + evaluation.notes
        snapshot = dict(evaluation.snapshot)
        snapshot["notes"] = list(notes) + [str(issue) for issue in data.issues]
        snapshot["data"] = {**data.as_of(evaluation.as_of).coverage(), "refresh": update.outcome}
        analysis = evaluation.analysis
        records = track_records(data.as_of(evaluation.as_of), analysis) if analysis is not None else {}
        records.update(decades_records(feed, evaluation.as_of, settings))
        snapshot["records"] = records  # each key's record in one line: /history and the alerts show it
        snapshot["active"] = analysis.active if analysis is not None else {}
        store.save_snapshot(evaluation.as_of, snapshot)
        if update.outcome != "complete":
            store.finish_run(run_id, update.outcome, evaluation.as_of, 0, "; ".join(update.notes) or None, warnings)
            log.warning("tick %s: data %s, no detector fired: %s", run_id, update.outcome, "; ".join(update.notes))
            return TickResult(run_id, evaluation.as_of, [], notes, update.outcome, evaluation.metrics)
        found = _history_at_first_start(store, evaluation)
        new = store.record_signals([with_record(signal, records) for signal in evaluation.signals],
                                   digest=lambda fresh: digest_of(evaluation.as_of, snapshot, fresh))
        sessions = data.sessions
        own = evaluate_custom_alerts(store, snapshot, settings,
                                     lambda day: int(sessions.searchsorted(pd.Timestamp(day))))
        if own:
            log.info("tick %s: %d chat alerts fired", run_id, own)
        pruned = store.prune_sent(retention_days)
        if pruned:
            log.info("pruned %d sent deliveries older than %g days", pruned, retention_days)
        store.finish_run(run_id, "ok", evaluation.as_of, len(new), warnings=warnings)
        log.info("tick %s as of %s: %s", run_id, evaluation.as_of, plural(len(new), "new signal"))
        return TickResult(run_id, evaluation.as_of, new, notes, metrics=evaluation.metrics, found_in_history=found)
    except Exception as exc:
        try:
            store.finish_run(run_id, "error", error=f"{type(exc).__name__}: {exc}")
        except Exception as also:  # a full disk fails the record too: the caller still learns of the failure
            log.error("tick %s failed (%s) and could not be recorded: %s", run_id, exc, also)
        raise


def decades_records(feed: DataFeed, as_of: str, settings: DetectorSettings) -> dict[str, str]:
    """The index-level keys' records over the longest history the feed has (live: the cache's index
    history from 1987), in place of the shorter grid's; nothing when the grid's is the longest."""
    history = feed.record_history()
    if history is None or not len(history.sessions) or history.sessions[0] > pd.Timestamp(as_of):
        return {}
    visible = history.as_of(as_of)
    lines = track_records(visible, Analysis(compute_metrics(visible, settings), settings))
    return {key: line for key, line in lines.items() if KEY_TOPICS.get(key) in INDEX_LEVEL_TOPICS}


def _history_at_first_start(store: Store, evaluation: Evaluation) -> int:
    """A fresh bot knows its history: the signals the data implies before today are recorded, marked
    as found at start, and sent to nobody, so /history, /breadth and /rates agree from the first minute."""
    analysis = evaluation.analysis
    if analysis is None or store.last_run("ok") is not None or store.has_signals():
        return 0
    today = len(analysis.metrics.sessions) - 1
    signals = [replace(s, detail={**s.detail, "found_at_start": True}) for s in analysis.signals(0, today)]
    found = store.record_history(signals)
    if found:
        log.info("first start: %s found in the history (recorded, not sent)", plural(found, "signal"))
    return found


def digest_of(as_of: str, snapshot: dict[str, Any], new: list[Signal]) -> Signal:
    """The session's digest (one per session: its identity is ("digest", as_of, "start"))."""
    items = [{"type": s.type, "key": s.key, "direction": s.direction, "date": s.date, "title": s.title}
             for s in new]
    return Signal("digest", "digest", as_of, "start", f"Daily digest {as_of}",
                  {"picture": picture_lines(snapshot), "signals": items})


def with_record(signal: Signal, records: dict[str, str]) -> Signal:
    """A start carries its key's record as of that day, so the alert can say what the signal is worth."""
    if signal.direction != "start" or signal.key not in records:
        return signal
    return replace(signal, detail={**signal.detail, "record": records[signal.key]})


def _catch_up_from(store: Store, data: MarketData, session: pd.Timestamp) -> str | None:
    last_ok = store.last_run("ok")
    if not last_ok or not last_ok["data_as_of"]:
        return None
    sessions = data.sessions
    position = int(sessions.searchsorted(session))
    earliest = sessions[max(0, position - CATCH_UP_SESSIONS)]
    evaluated = max(last_ok["data_as_of"], earliest.strftime("%Y-%m-%d"))
    return evaluated if evaluated < session.strftime("%Y-%m-%d") else None

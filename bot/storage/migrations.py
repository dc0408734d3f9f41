"""The store's schema, step by step: each step named, applied in order at open, recorded by number and name.

Each step is written once for the file; the server takes the same text with its own names for the
same types (signals/database.py), except where a step must say something SQLite cannot (or the other way
round), which carries its own `postgresql` text. A database of any past version opens to the last.
"""

from __future__ import annotations

from signals.database import Migration

_UTC_NOW_PG = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"

STORE_MIGRATIONS: tuple[Migration, ...] = (
    # 1: the first schema
    Migration("""
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL DEFAULT 'private',
        title TEXT NOT NULL DEFAULT '',
        active INTEGER NOT NULL DEFAULT 1,
        inactive_reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE subscriptions (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE ON DELETE CASCADE,
        topic TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, topic)
    );
    CREATE TABLE signals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        date TEXT NOT NULL,
        direction TEXT NOT NULL,
        type TEXT NOT NULL,
        title TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        UNIQUE (key, date, direction)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        signal_id INTEGER NOT NULL REFERENCES signals(id),
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (signal_id, chat_id)
    );
    CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
    CREATE INDEX outbox_chat ON outbox (chat_id, status);
    CREATE TABLE snapshots (
        as_of TEXT PRIMARY KEY,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        trigger TEXT NOT NULL DEFAULT 'schedule',
        data_as_of TEXT,
        outcome TEXT NOT NULL DEFAULT 'running',
        new_signals INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    """, name="first schema"),
    # 2: one-time notices (an admin is told once that a session's data is stale)
    Migration("CREATE TABLE notices (key TEXT PRIMARY KEY, created_at TEXT NOT NULL);", name="notices"),
    # 3: the charts of the latest session, drawn when first asked, so /chart serves stored bytes
    Migration("CREATE TABLE charts (name TEXT PRIMARY KEY, as_of TEXT NOT NULL, png BLOB NOT NULL, "
              "created_at TEXT NOT NULL);", name="charts"),
    # 4: delivery state per message part (a split alert whose second part failed never resends the
    # first), and answers Telegram may or may not have acted on (retried once, then left alone)
    Migration("""
    ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN ambiguous INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN lease_until TEXT;
    """, name="delivery parts"),
    # 5: heartbeats (the event loop, ticks) that `rotation-bot health` reads; sent rows pruned by age
    Migration("""
    CREATE TABLE heartbeats (name TEXT PRIMARY KEY, at TEXT NOT NULL);
    CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE status = 'sent';
    """, name="heartbeats"),
    # 6: delivery counts kept by triggers, so /status and /stats read six rows instead of scanning
    # the outbox; pending rows served in id order by a partial index (no sort of every due row).
    # The server counts with an index instead: triggers on one counts row would make every replica's
    # every send wait on the same row lock.
    Migration("""
    CREATE TABLE outbox_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
    INSERT INTO outbox_counts (status, n) SELECT status, COUNT(*) FROM outbox GROUP BY status;
    CREATE TRIGGER outbox_counted_insert AFTER INSERT ON outbox BEGIN
        INSERT INTO outbox_counts (status, n) VALUES (NEW.status, 1)
            ON CONFLICT(status) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER outbox_counted_delete AFTER DELETE ON outbox BEGIN
        UPDATE outbox_counts SET n = n - 1 WHERE status = OLD.status;
    END;
    CREATE TRIGGER outbox_counted_update AFTER UPDATE OF status ON outbox WHEN OLD.status <> NEW.status BEGIN
        UPDATE outbox_counts SET n = n - 1 WHERE status = OLD.status;
        INSERT INTO outbox_counts (status, n) VALUES (NEW.status, 1)
            ON CONFLICT(status) DO UPDATE SET n = n + 1;
    END;
    CREATE INDEX outbox_pending_by_id ON outbox (id) WHERE status = 'pending';
    """, postgresql="""
    CREATE INDEX outbox_pending_by_id ON outbox (id) WHERE status = 'pending';
    CREATE INDEX outbox_by_status ON outbox (status);
    """, name="delivery counts"),
    # 7: the sectors and credit topics arrive. A chat that took every topic there was (it asked for
    # "all", or ticked each) gets the new ones too; a chat that chose some keeps its choice.
    Migration("""
    INSERT OR IGNORE INTO subscriptions (chat_id, topic, created_at)
        SELECT chat_id, new.topic, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
        FROM subscriptions JOIN (SELECT 'sectors' AS topic UNION ALL SELECT 'credit') AS new
        WHERE subscriptions.topic IN ('breadth', 'breakout', 'rates')
        GROUP BY chat_id, new.topic HAVING COUNT(DISTINCT subscriptions.topic) = 3;
    """, postgresql=f"""
    INSERT INTO subscriptions (chat_id, topic, created_at)
        SELECT chat_id, new.topic, {_UTC_NOW_PG}
        FROM subscriptions CROSS JOIN (VALUES ('sectors'), ('credit')) AS new (topic)
        WHERE subscriptions.topic IN ('breadth', 'breakout', 'rates')
        GROUP BY chat_id, new.topic HAVING COUNT(DISTINCT subscriptions.topic) = 3
        ON CONFLICT DO NOTHING;
    """, name="sectors and credit topics"),
    # 8: per-chat controls (digest, quiet hours, time zone) and a chat's own alerts on metric paths
    Migration("""
    CREATE TABLE chat_settings (
        chat_id INTEGER PRIMARY KEY REFERENCES chats(id) ON UPDATE CASCADE ON DELETE CASCADE,
        digest INTEGER NOT NULL DEFAULT 0,
        quiet_start TEXT,
        quiet_end TEXT,
        timezone TEXT NOT NULL DEFAULT 'America/New_York',
        updated_at TEXT NOT NULL
    );
    CREATE TABLE custom_alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE ON DELETE CASCADE,
        path TEXT NOT NULL,
        op TEXT NOT NULL,
        threshold REAL NOT NULL,
        active INTEGER NOT NULL DEFAULT 0,
        false_run INTEGER NOT NULL DEFAULT 0,
        starts TEXT NOT NULL DEFAULT '[]',
        last_session TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX custom_alerts_chat ON custom_alerts (chat_id);
    """, name="chat controls and own alerts"),
    # 9: a run keeps the data warnings it saw (bad rows, truncated or missing files), so /status can
    # name them; outbox rows past their window are 'expired' (no schema change: a status value)
    Migration("ALTER TABLE runs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';", name="run warnings"),
    # 10: a forum group's alerts go to one of its topics (message_thread_id); NULL: the chat itself
    Migration("ALTER TABLE chat_settings ADD COLUMN thread_id INTEGER;", name="forum topics"),
    # 11: the cycle topic arrives; as in 7, a chat that took every topic there was gets it too
    Migration("""
    INSERT OR IGNORE INTO subscriptions (chat_id, topic, created_at)
        SELECT chat_id, 'cycle', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM subscriptions
        WHERE topic IN ('breadth', 'breakout', 'rates', 'sectors', 'credit')
        GROUP BY chat_id HAVING COUNT(DISTINCT topic) = 5;
    """, postgresql=f"""
    INSERT INTO subscriptions (chat_id, topic, created_at)
        SELECT chat_id, 'cycle', {_UTC_NOW_PG} FROM subscriptions
        WHERE topic IN ('breadth', 'breakout', 'rates', 'sectors', 'credit')
        GROUP BY chat_id HAVING COUNT(DISTINCT topic) = 5
        ON CONFLICT DO NOTHING;
    """, name="cycle topic"),
    # 12: replicas. Each running bot says who it is and whether it leads; a claimed delivery names
    # its claimer, so the claims of a replica that died are given back without touching the living's.
    Migration("""
    CREATE TABLE replicas (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        beat_at TEXT NOT NULL,
        leader_since TEXT
    );
    ALTER TABLE outbox ADD COLUMN leased_by TEXT;
    """, name="replicas"),
)

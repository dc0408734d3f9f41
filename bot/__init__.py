"""rotation-bot's product layer: configuration, command line (and, later, storage, scheduling, Telegram)."""

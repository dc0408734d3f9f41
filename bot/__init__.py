"""rotation-bot's product around the analysis: configuration, the store, the schedule and tick, Telegram
(handlers, answers, charts, delivery through the outbox), the demo and the command line."""

"""Getting alerts out: draining the outbox within Telegram's limits, what each answer leads to, message
parts, pacing, and the channels that get every signal of a topic."""

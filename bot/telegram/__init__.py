"""Talking to Telegram: the Application, its handlers and jobs, the command and button tables, the typed
context every handler receives, and the watch on polling."""

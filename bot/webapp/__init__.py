"""The dashboard Mini App: a page Telegram opens inside the chat, its JSON API and the check of initData."""

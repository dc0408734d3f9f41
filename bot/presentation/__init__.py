"""What the bot shows: topic answers, alert and history messages, charts, and the terminal's rendering."""

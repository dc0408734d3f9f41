"""The running program: settings, the session schedule, one tick, data feeds, the command line, and a
process's life (one bot on a file, or a replica that stands by and leads)."""

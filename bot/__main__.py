"""`python -m bot`: the command line, as `rotation-bot`."""

import sys

from bot.runtime.cli import main

sys.exit(main())

"""`python -m bot.followup`: fire due satisfaction follow-ups until SIGTERM or SIGINT."""
import sys

from bot.followup.runner import main

if __name__ == "__main__":
    sys.exit(main())

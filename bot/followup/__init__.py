"""The satisfaction follow-up runner (回访): `python -m bot.followup`.

Settings come from the environment, read once at start-up:
  DATABASE_URL                   the case database (default: SQLite file var/cases.db)
  RASA_URL                       the Rasa server (default http://localhost:5005), run with
                                 --enable-api
  RASA_AUTH_TOKEN                Rasa's --auth-token, sent as ?token= (never logged)
  FOLLOWUP_POLL_SECONDS          how often to look for due follow-ups (default 5)
  FOLLOWUP_HTTP_TIMEOUT_SECONDS  one trigger call at most (default 10)
  FOLLOWUP_LEASE_SECONDS         a claim keeps other runners away this long (default 120;
                                 must be longer than the HTTP timeout)
  FOLLOWUP_RETRY_SECONDS         wait after a failed trigger, doubling each time (default 60)
  FOLLOWUP_MAX_ATTEMPTS          trigger attempts before giving up (default 5)
When a follow-up is due is decided when it is scheduled (FOLLOWUP_DELAY_SECONDS, see
`bot.cases.followups.followup_delay`), not here.
"""
from bot.followup.runner import (
    FOLLOWUP_ACTION,
    RasaClient,
    RunnerSettings,
    TriggerFailed,
    main,
    run,
    run_once,
)

__all__ = ["FOLLOWUP_ACTION", "RasaClient", "RunnerSettings", "TriggerFailed", "main", "run", "run_once"]

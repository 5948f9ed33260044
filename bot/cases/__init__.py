"""Cases (工单): the record of one complaint, from opening to closing, and where it is kept."""
from bot.cases.status import STATUSES, UNFINISHED_STATUSES, status_label, status_next_step
from bot.cases.store import (
    EVENT_KINDS,
    MAX_DESCRIPTION_CHARS,
    REMEDIES,
    CaseEvent,
    CaseNotFound,
    CaseRecord,
    CaseStore,
    CaseStoreError,
    default_database_url,
)

__all__ = [
    "EVENT_KINDS", "MAX_DESCRIPTION_CHARS", "REMEDIES", "STATUSES", "UNFINISHED_STATUSES",
    "CaseEvent", "CaseNotFound", "CaseRecord", "CaseStore", "CaseStoreError",
    "default_database_url", "status_label", "status_next_step",
]

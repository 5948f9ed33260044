"""The five complaint categories (投诉分类) and the intents that carry them."""
from __future__ import annotations

from typing import Optional

CATEGORIES = ("quality", "logistics", "service", "return", "transaction")
INTENT_PREFIX = "complain_"
COMPLAINT_INTENTS = tuple(INTENT_PREFIX + category for category in CATEGORIES)

CATEGORY_NAMES_ZH = {
    "quality": "品质",
    "logistics": "物流",
    "service": "服务",
    "return": "退换货",
    "transaction": "交易纠纷",
}


def category_of_intent(intent: Optional[str]) -> Optional[str]:
    """`complain_quality` → `quality`; any other intent → None."""
    if intent and intent.startswith(INTENT_PREFIX):
        category = intent[len(INTENT_PREFIX):]
        if category in CATEGORIES:
            return category
    return None

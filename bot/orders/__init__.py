"""Order look-up: demo fixtures by default, a shop's HTTP API by configuration (see README.md)."""
from bot.orders.book import (
    DEFAULT_FIXTURES,
    FixtureOrderBook,
    HttpOrderBook,
    OrderBook,
    OrderServiceUnavailable,
    order_book_from_env,
)
from bot.orders.checks import (
    MALFORMED,
    NOT_FOUND,
    NOT_YOURS,
    OK,
    OUTCOMES,
    UNAVAILABLE,
    OrderCheck,
    check_order,
)
from bot.orders.model import (
    ORDER_ID_PATTERN,
    STATUSES,
    TIERS,
    Order,
    OrderDataError,
    OrderItem,
    find_order_id,
    is_well_formed,
)

__all__ = [
    "DEFAULT_FIXTURES", "FixtureOrderBook", "HttpOrderBook", "OrderBook", "OrderServiceUnavailable",
    "order_book_from_env", "MALFORMED", "NOT_FOUND", "NOT_YOURS", "OK", "OUTCOMES", "UNAVAILABLE",
    "OrderCheck", "check_order", "ORDER_ID_PATTERN", "STATUSES", "TIERS", "Order", "OrderDataError",
    "OrderItem", "find_order_id", "is_well_formed",
]

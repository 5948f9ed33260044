"""Where orders come from: one interface, demo fixtures by default, a shop's API by configuration.

`order_book_from_env()` picks the adapter:
- `ORDER_API_URL` set → `HttpOrderBook` (token from `ORDER_API_TOKEN`, seconds to wait
  from `ORDER_API_TIMEOUT`, default 5);
- otherwise → `FixtureOrderBook` reading `ORDER_FIXTURES`, or the demo orders beside
  this module.

HTTP contract a shop's order API implements (`base_url` is e.g. `https://shop.example/api`):

    GET {base_url}/orders/{order_id}
        200  one order as a JSON object (the shape of an order in demo_orders.json)
        404  no such order
    GET {base_url}/orders?shopper_id={shopper_id}
        200  {"orders": [order, ...]}, an empty list for a shopper with no orders;
             only orders of that shopper

    Every request carries `Authorization: Bearer <ORDER_API_TOKEN>` when a token is
    configured; 401 or 403 means the token was refused. Any other status, a body that is
    not valid JSON or not a valid order, a listed order of another shopper, or no answer
    within the timeout makes the look-up fail with `OrderServiceUnavailable`, so the bot
    can say the order system is busy instead of claiming the order does not exist.
    Field rules for an order: README.md beside this module.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Protocol
from urllib.parse import quote, urlsplit

import requests

from bot.orders.model import Order, OrderDataError, is_well_formed

DEFAULT_FIXTURES = Path(__file__).with_name("demo_orders.json")
DEFAULT_TIMEOUT = 5.0

# Orders never paid sort after every paid one.
_NEVER = datetime.min.replace(tzinfo=timezone.utc)


class OrderBook(Protocol):
    def get(self, order_id: str) -> Order | None:
        """The order with this id, or None when there is none."""

    def orders_of(self, shopper_id: str) -> list[Order]:
        """The shopper's orders, newest payment first."""


class OrderServiceUnavailable(Exception):
    """The order service could not answer; the message says why, without secrets."""


def newest_first(orders: Iterable[Order]) -> list[Order]:
    return sorted(orders, key=lambda o: (o.paid_at or _NEVER, o.order_id), reverse=True)


class FixtureOrderBook:
    """Orders from a JSON file `{"orders": [...]}`, read and checked once at start-up."""

    def __init__(self, path: Path = DEFAULT_FIXTURES) -> None:
        self.path = Path(path)
        self._orders = _load_fixtures(self.path)

    def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def orders_of(self, shopper_id: str) -> list[Order]:
        return newest_first(o for o in self._orders.values() if o.shopper_id == shopper_id)

    def __len__(self) -> int:
        return len(self._orders)

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())


def _load_fixtures(path: Path) -> dict[str, Order]:
    name = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except FileNotFoundError:
        raise OrderDataError(f"{name}: order fixtures file not found "
                             "(set ORDER_FIXTURES to another file)") from None
    except json.JSONDecodeError as error:
        raise OrderDataError(f"{name}: not valid JSON ({error})") from None
    raw_orders = data.get("orders") if isinstance(data, dict) else None
    if not isinstance(raw_orders, list):
        raise OrderDataError(f'{name}: expected {{"orders": [...]}} at the top level')
    orders: dict[str, Order] = {}
    tiers: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(raw_orders, start=1):
        try:
            order = Order.from_dict(raw)
        except OrderDataError as error:
            raise OrderDataError(f"{name}: order #{number}: {error}") from None
        if order.order_id in orders:
            raise OrderDataError(f"{name}: order {order.order_id} appears twice")
        # The tier is the shopper's, copied onto each order: two values mean a typo.
        first = tiers.setdefault(order.shopper_id, (order.tier, order.order_id))
        if first[0] != order.tier:
            raise OrderDataError(f"{name}: order {order.order_id}: tier {order.tier!r} differs "
                                 f"from tier {first[0]!r} of order {first[1]} of the same "
                                 f"shopper {order.shopper_id}")
        orders[order.order_id] = order
    return orders


class HttpOrderBook:
    """A shop's own order API (contract in the module docstring)."""

    def __init__(self, base_url: str, token: str | None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        # Errors name the service by this: without credentials a URL may carry, or a query.
        parts = urlsplit(self.base_url)
        self._where = parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="").geturl()

    def __repr__(self) -> str:
        return f"HttpOrderBook({self._where!r})"

    def get(self, order_id: str) -> Order | None:
        # A malformed id cannot exist, and must not reach the URL path.
        if not is_well_formed(order_id):
            return None
        response = self._get(f"/orders/{quote(order_id)}")
        if response.status_code == 404:
            return None
        order = self._order(self._json(response))
        if order.order_id != order_id:
            raise self._down("answered with another order")
        return order

    def orders_of(self, shopper_id: str) -> list[Order]:
        response = self._get("/orders", params={"shopper_id": shopper_id})
        if response.status_code == 404:
            raise self._down("has no /orders (HTTP 404): check ORDER_API_URL")
        body = self._json(response)
        raw_orders = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(raw_orders, list):
            raise self._down('did not answer {"orders": [...]}')
        orders = [self._order(raw) for raw in raw_orders]
        # Another shopper's order here would be shown to the wrong person.
        if any(o.shopper_id != shopper_id for o in orders):
            raise self._down("returned orders of another shopper")
        return newest_first(orders)

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> requests.Response:
        try:
            response = requests.get(self.base_url + path, params=params, headers=self._headers,
                                    timeout=self.timeout)
        except requests.Timeout:
            raise self._down(f"did not answer within {self.timeout:g} s") from None
        except requests.ConnectionError:
            raise self._down("cannot be reached (connection failed)") from None
        except requests.RequestException as error:
            raise self._down(f"request failed ({type(error).__name__})") from None
        if response.status_code in (401, 403):
            raise self._down(f"refused our token (HTTP {response.status_code})")
        if response.status_code not in (200, 404):
            raise self._down(f"answered HTTP {response.status_code}")
        return response

    def _json(self, response: requests.Response) -> Any:
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise self._down("answered with invalid JSON") from None

    def _order(self, raw: Any) -> Order:
        try:
            return Order.from_dict(raw)
        except OrderDataError as error:
            raise self._down(f"returned an invalid order: {error}") from None

    def _down(self, what: str) -> OrderServiceUnavailable:
        return OrderServiceUnavailable(f"order API {what} — {self._where}")


def order_book_from_env(env: Mapping[str, str] = os.environ) -> OrderBook:
    url = (env.get("ORDER_API_URL") or "").strip()
    if url:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            # Not echoed: the URL may carry credentials.
            raise ValueError("ORDER_API_URL must be an http:// or https:// URL")
        timeout_text = env.get("ORDER_API_TIMEOUT") or str(DEFAULT_TIMEOUT)
        try:
            timeout = float(timeout_text)
        except ValueError:
            timeout = 0.0
        if not timeout > 0:
            raise ValueError(f"ORDER_API_TIMEOUT must be a number of seconds above 0, got {timeout_text!r}")
        return HttpOrderBook(url, env.get("ORDER_API_TOKEN") or None, timeout=timeout)
    return FixtureOrderBook(Path(env.get("ORDER_FIXTURES") or DEFAULT_FIXTURES))

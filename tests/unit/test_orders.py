"""Order look-up: the demo orders, the order-number format, the check a form runs, both adapters."""
from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.orders import (
    DEFAULT_FIXTURES,
    STATUSES,
    TIERS,
    FixtureOrderBook,
    HttpOrderBook,
    Order,
    OrderDataError,
    OrderServiceUnavailable,
    check_order,
    find_order_id,
    is_well_formed,
    order_book_from_env,
)

CST = timezone(timedelta(hours=8))
E2E_SHOPPERS = ("e2e-shopper-1", "e2e-shopper-2", "e2e-shopper-3")
UNKNOWN_ID = "6912345678901234567"
TOKEN = "s3cret-shop-token"
TRACKING_FORMATS = {
    "顺丰": r"SF\d{12,13}",
    "中通": r"75\d{12}",
    "圆通": r"YT\d{13}",
    "韵达": r"4[36]\d{11}",
    "申通": r"77\d{13}",
    "京东物流": r"JDVA\d{11}",
    "极兔": r"JT\d{13}",
    "邮政EMS": r"1\d{12}",
}


@pytest.fixture(scope="module")
def demo() -> FixtureOrderBook:
    return FixtureOrderBook()


@pytest.fixture(scope="module")
def raw_demo_orders() -> list[dict]:
    # Plain json.loads: amounts are floats such as 59.9, as a shop's API would send them.
    return json.loads(DEFAULT_FIXTURES.read_text(encoding="utf-8"))["orders"]


# --- the demo orders ---------------------------------------------------------------

def test_the_demo_has_enough_orders_and_shoppers_to_play_with(demo):
    assert len(demo) >= 48
    assert len({o.shopper_id for o in demo}) >= 12


def test_every_status_appears_several_times_and_every_tier_appears(demo):
    statuses = Counter(o.status for o in demo)
    assert all(statuses[s] >= 3 for s in STATUSES), statuses
    assert {o.tier for o in demo} == set(TIERS)


def test_a_shopper_has_one_tier_across_their_orders(demo):
    tiers: dict[str, set[str]] = {}
    for order in demo:
        tiers.setdefault(order.shopper_id, set()).add(order.tier)
    assert all(len(t) == 1 for t in tiers.values()), tiers


def test_demo_timestamps_are_in_autumn_2026_beijing_time_and_in_order(demo):
    start, end = datetime(2026, 9, 1, tzinfo=CST), datetime(2026, 11, 23, tzinfo=CST)
    for o in demo:
        times = [t for t in (o.paid_at, o.shipped_at, o.delivered_at) if t is not None]
        assert all(t.utcoffset() == timedelta(hours=8) and start <= t < end for t in times), o.order_id
        assert times == sorted(set(times)), f"{o.order_id}: paid < shipped < delivered"


def test_unshipped_orders_have_no_shipping_data(demo):
    for o in demo:
        if o.status in ("paid", "cancelled"):
            assert o.shipped_at is None and o.delivered_at is None and o.tracking_no is None, o.order_id
        if o.status == "shipped":
            assert o.delivered_at is None and o.tracking_no, o.order_id


def test_tracking_numbers_look_like_their_carriers(demo):
    shipped = [o for o in demo if o.carrier]
    assert {o.carrier for o in shipped} == set(TRACKING_FORMATS)
    for o in shipped:
        assert re.fullmatch(TRACKING_FORMATS[o.carrier], o.tracking_no), (o.order_id, o.tracking_no)


def test_perishable_custom_and_digital_goods_are_not_returnable(demo):
    items = [item for o in demo for item in o.items]
    excluded_words = ("猕猴桃", "车厘子", "大闸蟹", "定制", "已激活", "点卡", "刊")
    for word in excluded_words:
        matching = [i for i in items if word in i.name]
        assert matching, word
        assert not any(i.returnable for i in matching), word
    assert any(i.returnable for i in items if "连衣裙" in i.name)


def test_demo_order_ids_are_distinct_douyin_style_numbers(raw_demo_orders):
    ids = [o["order_id"] for o in raw_demo_orders]
    assert len(set(ids)) == len(ids)
    assert all(is_well_formed(i) and i[:2] in ("69", "48") for i in ids)
    assert UNKNOWN_ID not in ids


@pytest.mark.parametrize("shopper", E2E_SHOPPERS)
def test_each_e2e_shopper_has_the_orders_conversation_tests_need(demo, shopper):
    orders = demo.orders_of(shopper)
    recent = datetime(2026, 11, 18, tzinfo=CST)
    october = (datetime(2026, 10, 1, tzinfo=CST), datetime(2026, 11, 1, tzinfo=CST))
    delivered = [o for o in orders if o.status == "delivered"]
    assert any(o.delivered_at >= recent and any(i.returnable for i in o.items) for o in delivered)
    assert any(october[0] <= o.delivered_at < october[1] for o in delivered)
    assert any(o.status == "shipped" for o in orders)
    assert any(not i.returnable for o in orders for i in o.items)


def test_a_shoppers_orders_come_newest_payment_first_and_only_theirs(demo):
    orders = demo.orders_of("e2e-shopper-2")
    assert len(orders) >= 4 and {o.shopper_id for o in orders} == {"e2e-shopper-2"}
    paid = [o.paid_at for o in orders if o.paid_at]
    assert paid == sorted(paid, reverse=True)
    # An order cancelled before payment has no paid_at and goes last.
    assert orders[-1].paid_at is None
    assert demo.orders_of("nobody") == []


def test_an_order_survives_a_trip_through_json_with_exact_amounts(demo):
    for order in demo:
        wire = json.dumps(order.to_dict(), ensure_ascii=False)
        assert Order.from_dict(json.loads(wire)) == order
    shampoo = next(o for o in demo if o.items[0].price == Decimal("59.90"))
    assert shampoo.to_dict()["items"][0]["price"] == "59.90"


# --- the order-number format -------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("6912345678901234567", True),
    ("691234567890123456", False),      # 18 digits
    ("69123456789012345678", False),    # 20 digits
    ("69123456789O1234567", False),     # a letter O among the digits
    ("６９１２３４５６７８９０１２３４５６７", False),  # full-width: find_order_id converts
    ("6912345678901234567\n", False),
    ("", False),
])
def test_a_well_formed_order_id_is_exactly_19_ascii_digits(text, expected):
    assert is_well_formed(text) is expected


@pytest.mark.parametrize("text,expected", [
    ("订单号6912345678901234567麻烦看下", "6912345678901234567"),
    ("6912345678901234567", "6912345678901234567"),
    ("订单号：６９１２３４５６７８９０１２３４５６７", "6912345678901234567"),
    ("电话13812345678，订单4812345678901234567", "4812345678901234567"),
    ("先发4812345678901234567，不对是6912345678901234567", "4812345678901234567"),
    ("订单号691234567890123456麻烦看下", None),      # 18 digits
    ("订单号69123456789012345678麻烦看下", None),    # 20 digits: not cut down to 19
    ("订单号 6912 3456 7890 1234 567", None),
    ("订单号6912-3456-7890-1234-567", None),
    ("我的连衣裙开线了", None),
])
def test_the_order_number_is_found_inside_a_message(text, expected):
    assert find_order_id(text) == expected


# --- checking the number a shopper gave --------------------------------------------

def test_the_shoppers_own_order_is_found_from_a_sentence(demo):
    mine = demo.orders_of("e2e-shopper-1")[0]
    check = check_order(demo, f"订单号{mine.order_id}麻烦看下", "e2e-shopper-1")
    assert (check.outcome, check.order, check.order_id) == ("ok", mine, mine.order_id)
    assert check_order(demo, mine.order_id, "e2e-shopper-1").order == mine


@pytest.mark.parametrize("text", ["691234567890123456", "69123456789012345678", "abc", "订单号是啥", ""])
def test_a_number_that_is_not_19_digits_is_malformed(demo, text):
    check = check_order(demo, text, "e2e-shopper-1")
    assert (check.outcome, check.order, check.order_id) == ("malformed", None, None)


def test_an_unknown_number_is_not_found(demo):
    check = check_order(demo, UNKNOWN_ID, "e2e-shopper-1")
    assert (check.outcome, check.order, check.order_id) == ("not_found", None, UNKNOWN_ID)


def test_someone_elses_order_is_refused_without_telling_anything_about_it(demo):
    theirs = demo.orders_of("e2e-shopper-2")[0]
    check = check_order(demo, theirs.order_id, "e2e-shopper-1")
    assert (check.outcome, check.order, check.order_id) == ("not_yours", None, theirs.order_id)
    shown = repr(check)
    assert "e2e-shopper-2" not in shown and theirs.items[0].name not in shown and theirs.status not in shown


def test_a_dead_order_service_is_reported_as_unavailable_not_as_unknown_order(stopped_api_url):
    check = check_order(HttpOrderBook(stopped_api_url, TOKEN, timeout=1), UNKNOWN_ID, "e2e-shopper-1")
    assert (check.outcome, check.order, check.order_id) == ("unavailable", None, UNKNOWN_ID)


# --- a bad fixtures file is refused at start-up, naming the order ------------------

def _write(tmp_path, orders):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": orders}, ensure_ascii=False), encoding="utf-8")
    return path


def _set(key, value):
    return lambda o: o.__setitem__(key, value)


@pytest.mark.parametrize("break_it,expected", [
    (_set("order_id", "69123"), "'69123'.*order_id"),
    (_set("order_id", 6912345678901234567), "order_id"),
    (_set("status", "shipping"), "{id}.*status 'shipping'"),
    (_set("tier", "vip"), "{id}.*tier 'vip'"),
    (_set("shopper_id", ""), "{id}.*shopper_id"),
    (_set("amount", 1.001), "{id}.*amount"),
    (_set("amount", 100.00), "{id}.*amount 100.00 differs from the items' total 259.00"),
    (_set("items", []), "{id}.*items"),
    (lambda o: o["items"][0].pop("price"), r"{id}: items\[0\].*price"),
    (lambda o: o["items"][0].update(quantity=0), r"{id}: items\[0\].*quantity"),
    (lambda o: o["items"][0].update(returnable="yes"), r"{id}: items\[0\].*returnable"),
    (lambda o: o["items"][0].update(sku=None), r"{id}: items\[0\].*sku"),
    (_set("paid_at", "2026-11-15T20:31:00"), "{id}.*paid_at.*no UTC offset"),
    (_set("paid_at", "yesterday"), "{id}.*paid_at"),
    (_set("delivered_at", "2026-11-16T09:00:00+08:00"), "{id}.*delivered_at is before shipped_at"),
    (_set("tracking_no", None), "{id}.*carrier and tracking_no"),
    (lambda o: o.update(status="paid"), "{id}.*paid order cannot have shipped_at"),
    (lambda o: o.update(status="shipped"), "{id}.*shipped order cannot have delivered_at"),
    (lambda o: o.update(status="cancelled"), "{id}.*cancelled order cannot have shipped_at"),
    (lambda o: o.update(shipped_at=None), "{id}.*delivered order needs shipped_at"),
])
def test_a_bad_order_in_the_fixtures_is_refused_naming_the_order_and_field(tmp_path, raw_demo_orders,
                                                                         break_it, expected):
    good = copy.deepcopy(raw_demo_orders[0])   # a delivered 连衣裙 at 259.00
    assert good["status"] == "delivered" and good["amount"] == 259.0
    FixtureOrderBook(_write(tmp_path, [good]))
    break_it(good)
    with pytest.raises(OrderDataError, match=expected.format(id=raw_demo_orders[0]["order_id"])) as error:
        FixtureOrderBook(_write(tmp_path, [good]))
    assert "orders.json: order #1" in str(error.value)


def test_an_order_id_used_twice_is_refused(tmp_path, raw_demo_orders):
    twice = [raw_demo_orders[0], raw_demo_orders[1], raw_demo_orders[0]]
    with pytest.raises(OrderDataError, match=f"order {raw_demo_orders[0]['order_id']} appears twice"):
        FixtureOrderBook(_write(tmp_path, twice))


def test_two_tiers_for_one_shopper_are_refused(tmp_path, raw_demo_orders):
    first, second = copy.deepcopy(raw_demo_orders[:2])
    assert first["shopper_id"] == second["shopper_id"]
    second["tier"] = "dormant"
    with pytest.raises(OrderDataError, match=f"order {second['order_id']}: tier 'dormant' differs"):
        FixtureOrderBook(_write(tmp_path, [first, second]))


@pytest.mark.parametrize("content,expected", [
    ('{"orders": [', "not valid JSON"),
    ('[{"order_id": "6912345678901234567"}]', 'expected {"orders": \\[...\\]}'),
    (None, "order fixtures file not found.*ORDER_FIXTURES"),
])
def test_an_unreadable_fixtures_file_is_refused_with_its_name(tmp_path, content, expected):
    path = tmp_path / "orders.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(OrderDataError, match=f"orders.json: {expected}"):
        FixtureOrderBook(path)


# --- a shop's order API over real HTTP ---------------------------------------------

class FakeShopApi:
    """A shop's order API on a real local socket, following the contract in book.py."""

    def __init__(self, orders: list[dict], token: str | None) -> None:
        self.orders = {o["order_id"]: o for o in orders}
        self.token = token
        self.mode = "normal"          # or: error, garbage, slow, leaky
        self.authorizations: list[str | None] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll interval keeps shutdown() from waiting half a second per test.
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/api"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                auth = self.headers.get("Authorization")
                api.authorizations.append(auth)
                if api.mode == "slow":
                    time.sleep(1.5)
                if api.mode == "error":
                    return self._send(500, {"error": "database down"})
                if api.mode == "garbage":
                    return self._send(200, b"<html>\xe7\xbb\xb4\xe6\x8a\xa4\xe4\xb8\xad</html>")
                if api.token and auth != f"Bearer {api.token}":
                    return self._send(401, {"error": "unauthorized"})
                url = urlsplit(self.path)
                if url.path.startswith("/api/orders/"):
                    order = api.orders.get(url.path.rsplit("/", 1)[1])
                    return self._send(200, order) if order else self._send(404, {"error": "no such order"})
                if url.path == "/api/orders":
                    shopper = parse_qs(url.query).get("shopper_id", [""])[0]
                    orders = [o for o in api.orders.values()
                              if api.mode == "leaky" or o["shopper_id"] == shopper]
                    return self._send(200, {"orders": orders})
                return self._send(404, {"error": "no such page"})

            def _send(self, status, body):
                data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def shop_api(raw_demo_orders):
    api = FakeShopApi(copy.deepcopy(raw_demo_orders), TOKEN)
    yield api
    api.stop()


@pytest.fixture
def stopped_api_url(raw_demo_orders):
    api = FakeShopApi([], TOKEN)
    api.stop()
    return api.url


def test_the_http_adapter_finds_an_order_with_exact_amounts_sending_the_token(shop_api, demo):
    expected = next(o for o in demo if o.items[0].price == Decimal("59.90"))
    book = HttpOrderBook(shop_api.url, TOKEN)
    assert book.get(expected.order_id) == expected
    assert shop_api.authorizations == [f"Bearer {TOKEN}"]


def test_the_http_adapter_answers_none_for_an_unknown_order(shop_api):
    assert HttpOrderBook(shop_api.url + "/", TOKEN).get(UNKNOWN_ID) is None


def test_the_http_adapter_never_sends_a_malformed_id_to_the_shop(shop_api):
    assert HttpOrderBook(shop_api.url, TOKEN).get("../admin?x=6912345678901234567") is None
    assert shop_api.authorizations == []


def test_the_http_adapter_lists_a_shoppers_orders_newest_first(shop_api, demo):
    orders = HttpOrderBook(shop_api.url, TOKEN).orders_of("e2e-shopper-3")
    assert orders == demo.orders_of("e2e-shopper-3") and len(orders) >= 4
    assert HttpOrderBook(shop_api.url, TOKEN).orders_of("nobody") == []


def test_no_authorization_header_is_sent_without_a_token(shop_api):
    shop_api.token = None
    HttpOrderBook(shop_api.url, None).get(UNKNOWN_ID)
    assert shop_api.authorizations == [None]


def test_a_refused_token_makes_the_service_unavailable_without_revealing_it(shop_api, caplog):
    book = HttpOrderBook(shop_api.url, "wrong-token")
    with pytest.raises(OrderServiceUnavailable, match="refused our token") as error:
        book.get(UNKNOWN_ID)
    check = check_order(book, UNKNOWN_ID, "e2e-shopper-1")
    assert check.outcome == "unavailable"
    assert "wrong-token" not in str(error.value) and "wrong-token" not in caplog.text
    assert "refused our token" in caplog.text


@pytest.mark.parametrize("mode,expected", [
    ("error", "answered HTTP 500"),
    ("garbage", "invalid JSON"),
])
def test_a_broken_order_api_makes_the_service_unavailable(shop_api, mode, expected):
    shop_api.mode = mode
    book = HttpOrderBook(shop_api.url, TOKEN)
    with pytest.raises(OrderServiceUnavailable, match=expected):
        book.get(UNKNOWN_ID)
    with pytest.raises(OrderServiceUnavailable, match=expected):
        book.orders_of("e2e-shopper-1")


def test_an_api_answering_with_an_invalid_order_is_unavailable(shop_api, raw_demo_orders):
    order_id = raw_demo_orders[0]["order_id"]
    shop_api.orders[order_id] = dict(shop_api.orders[order_id], status="on_the_way")
    with pytest.raises(OrderServiceUnavailable, match=f"invalid order: order {order_id}: status"):
        HttpOrderBook(shop_api.url, TOKEN).get(order_id)


def test_an_api_listing_other_shoppers_orders_is_not_trusted(shop_api):
    shop_api.mode = "leaky"
    with pytest.raises(OrderServiceUnavailable, match="another shopper"):
        HttpOrderBook(shop_api.url, TOKEN).orders_of("e2e-shopper-1")


def test_a_stopped_order_api_is_unavailable_without_revealing_credentials(stopped_api_url):
    url_with_password = stopped_api_url.replace("http://", "http://shop:hunter2@")
    with pytest.raises(OrderServiceUnavailable, match="cannot be reached") as error:
        HttpOrderBook(url_with_password, TOKEN).get(UNKNOWN_ID)
    assert "hunter2" not in str(error.value) and TOKEN not in str(error.value)
    assert stopped_api_url in str(error.value)


def test_a_slow_order_api_is_given_up_on_after_the_timeout(shop_api):
    shop_api.mode = "slow"
    started = time.monotonic()
    with pytest.raises(OrderServiceUnavailable, match="did not answer within 0.2 s"):
        HttpOrderBook(shop_api.url, TOKEN, timeout=0.2).get(UNKNOWN_ID)
    assert time.monotonic() - started < 1.0


# --- choosing the adapter from the environment -------------------------------------

def test_without_an_api_url_the_demo_orders_are_used():
    book = order_book_from_env({})
    assert isinstance(book, FixtureOrderBook) and book.path == DEFAULT_FIXTURES


def test_order_fixtures_points_at_another_file(tmp_path, raw_demo_orders):
    book = order_book_from_env({"ORDER_FIXTURES": str(_write(tmp_path, raw_demo_orders[:2]))})
    assert isinstance(book, FixtureOrderBook) and len(book) == 2


def test_an_api_url_selects_the_http_adapter_with_its_token(shop_api, raw_demo_orders):
    book = order_book_from_env({"ORDER_API_URL": shop_api.url, "ORDER_API_TOKEN": TOKEN,
                                "ORDER_FIXTURES": "/nonexistent.json"})
    assert isinstance(book, HttpOrderBook)
    assert book.get(raw_demo_orders[0]["order_id"]).order_id == raw_demo_orders[0]["order_id"]
    assert TOKEN not in repr(book)


@pytest.mark.parametrize("env,expected", [
    ({"ORDER_API_URL": "shop.example/api"}, "ORDER_API_URL"),
    ({"ORDER_API_URL": "https://shop.example/api", "ORDER_API_TIMEOUT": "soon"}, "ORDER_API_TIMEOUT"),
    ({"ORDER_API_URL": "https://shop.example/api", "ORDER_API_TIMEOUT": "0"}, "ORDER_API_TIMEOUT"),
])
def test_a_bad_order_api_setting_is_refused_at_start_up(env, expected):
    with pytest.raises(ValueError, match=expected):
        order_book_from_env(env)

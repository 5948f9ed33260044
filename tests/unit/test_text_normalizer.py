from bot.nlu.text_normalizer import normalize, normalize_text


def test_traditional_characters_become_simplified():
    assert normalize_text("收到的外套品質太差了，線頭到處都是") == "收到的外套品质太差了,线头到处都是"


def test_full_width_letters_and_digits_become_half_width():
    assert normalize_text("ｉＰｈｏｎｅ１４壞了") == "iPhone14坏了"
    assert normalize_text("订单号：６９１７３８２９４０１８２７３６４５１") == "订单号:6917382940182736451"


def test_repeated_punctuation_and_emoji_collapse_to_one():
    assert normalize_text("什么破质量！！！！😡😡😡") == "什么破质量!😡"
    assert normalize_text("好评👍🏻👍🏻👍🏻") == "好评👍"


def test_spaces_next_to_chinese_are_removed_but_latin_words_stay_apart():
    assert normalize_text("我买的 iPhone 14 Pro 坏了") == "我买的iPhone 14 Pro坏了"
    assert normalize_text("  快递   太慢  ") == "快递太慢"


def test_characters_remember_where_they_came_from():
    raw = "買的　ｉＰａｄ　螢幕壞了！！"
    result = normalize(raw)
    assert result.text == "买的iPad萤幕坏了!"
    start, end = result.span(raw.index("ｉ"), raw.index("ｄ") + 1)
    assert result.text[start:end] == "iPad"
    start, end = result.span(raw.index("壞"), raw.index("了") + 1)
    assert result.text[start:end] == "坏了"


def test_normalising_twice_changes_nothing_more():
    once = normalize_text("哈哈哈！！！這個 ＳＦ 快遞　真的慢😭😭")
    assert normalize_text(once) == once


def test_empty_and_plain_text_are_unchanged():
    assert normalize_text("") == ""
    assert normalize_text("连衣裙开线了") == "连衣裙开线了"

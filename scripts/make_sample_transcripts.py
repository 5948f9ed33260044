#!/usr/bin/env python3
"""Drive the running stack with a few hundred shopper conversations, so the tracker store
holds real transcripts for the trainer workflow (export, mine, label, retrain).

    .venv/bin/python scripts/make_sample_transcripts.py                       # 300, seed 7
    .venv/bin/python scripts/make_sample_transcripts.py --url http://localhost:5005 \
        --conversations 300 --seed 7 --workers 4
    .venv/bin/python scripts/make_sample_transcripts.py --dry-run             # print the plan only

Needs the stack up (`make run`): every message goes through Rasa's REST channel
(POST {url}/webhooks/rest/webhook), so NLU, the dialogue policy, the actions, the case
store and the agent queue all do what they do for a real shopper.

What a run contains, like one day of a shop:
- complaints in the five categories (quality, logistics, service, return, transaction),
  told about a real order: the sender is the order's `shopper_id` in the demo orders, so
  the order verifies. The shopper answers what the bot asks (order number by button or
  typed, "拍不了" or a photo, the remedy) and accepts or declines offers by sending a
  button's payload; a few decline twice or ask for a person, which pauses the conversation
  (an agent has it), so those come last among a shopper's conversations;
- greetings, thanks and goodbyes, return-policy questions, case-status questions, requests
  for a person, live-room chatter and pre-sale questions;
- topics the assistant was not built for, for the trainer to find: price protection (价保,
  降价补差价), membership points (会员积分) and trade-in (以旧换新), in many wordings, some
  followed by a correction ("不是这个问题", "你理解错了") and the question asked again.
Shoppers write like app-chat or live-room shoppers: 亲/宝/家人们, emoji, typos, pinyin
abbreviations, and about one conversation in ten in Traditional characters.

The plan (who says what first, and every choice a shopper makes) is fixed by --seed; what
follows depends on the bot's answers. Conversations without an order use fresh sender ids
`sample-<seed>-<n>`: run again with another seed for new ones. The demo shoppers' ids are
shared by every run, so a shopper an agent still has from an earlier run stays paused
(their messages are stored, the bot does not answer: counted as "paused").
Messages carry metadata {"source": "sample_transcripts", "seed": N}.

Standard library and `requests` only. Every text below was written for this script.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import struct
import sys
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ORDERS = ROOT / "bot" / "orders" / "demo_orders.json"
SOURCE = "sample_transcripts"
MAX_TURNS = 12          # shopper messages per conversation at most
REQUEST_TIMEOUT = 90    # seconds per message (the first ones load the model's caches)

# Share of each kind of conversation in a day (largest remainder, in this order for ties).
KIND_SHARES: Tuple[Tuple[str, float], ...] = (
    ("complaint", 0.32),
    ("price_protection", 0.22),
    ("points", 0.12),
    ("trade_in", 0.08),
    ("small_talk", 0.08),
    ("return_policy", 0.06),
    ("case_status", 0.04),
    ("human", 0.04),
    ("chatter", 0.04),
)
CATEGORIES = ("quality", "logistics", "service", "return", "transaction")
# Topics the assistant does not know yet: what the trainer should find.
UNKNOWN_TOPICS = ("price_protection", "points", "trade_in")


# --------------------------------------------------------------------------------------
# How shoppers write
# --------------------------------------------------------------------------------------

APP_OPENERS = ["", "", "", "", "你好，", "您好，", "亲，", "在吗？", "客服你好，", "hello，",
               "亲亲，", "麻烦问下，", "打扰一下，", "dbq打扰下，", "请问，", "客服，"]
LIVE_OPENERS = ["", "", "", "主播，", "宝，", "家人们，", "宝宝，", "老板，", "姐妹们，",
                "jms，", "主播主播，", "小助手，", "xdm，", "u1s1，", "宝子们，", "家人们谁懂啊，"]
APP_ENDINGS = ["", "", "", "", "", "", "？", "。", "😭", "🙏", "谢谢", "，谢谢啦", "😅", "～",
               "，麻烦了", "[捂脸]", "🤔"]
LIVE_ENDINGS = ["", "", "", "！", "？？", "😭😭", "😡", "🙏🙏", "🥲", "😂", "～～", "!!!",
                "哈哈", "hhh", "[捂脸]", "👀", "💔", "。。。", "急急急", "在线等"]

# Phone-keyboard slips, homophones and net slang: (what, replacements).
TYPOS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("什么", ("啥", "神马", "什麽")),
    ("怎么", ("咋", "肿么", "怎末")),
    ("没有", ("木有", "没得", "没")),
    ("这样", ("酱紫",)),
    ("知道", ("造",)),
    ("谢谢", ("3q", "谢啦", "xx")),
    ("好的", ("好滴", "ok", "okk")),
    ("客服", ("kf",)),
    ("积分", ("积份", "jf")),
    ("价保", ("价宝", "价包")),
    ("保价", ("保介", "保架")),
    ("差价", ("查价", "差架")),
    ("降价", ("将价", "降架")),
    ("以旧换新", ("以就换新", "一旧换新", "yjhx")),
    ("会员", ("会圆",)),
    ("到账", ("到帐",)),
    ("可以", ("可已", "阔以", "kyi")),
    ("吗", ("嘛", "么", "ma")),
    ("退款", ("tk", "退宽")),
    ("为什么", ("为啥", "why")),
    ("是不是", ("是8是", "是否")),
    ("东西", ("东东",)),
    ("快递", ("快滴", "kd")),
    ("订单", ("定单",)),
    ("多久", ("多酒",)),
)

# Simplified → Traditional (Taiwan usage), for the characters these templates use. Phrases
# first, where one Simplified character has several Traditional forms.
S2T_PHRASES = (("头发", "頭髮"), ("洗发", "洗髮"), ("回复", "回覆"), ("复制", "複製"), ("台灯", "檯燈"),
               ("联系", "聯繫"), ("关系", "關係"), ("杂志", "雜誌"), ("两只", "兩隻"), ("一只", "一隻"),
               ("干净", "乾淨"), ("干嘛", "幹嘛"), ("上周", "上週"), ("一周", "一週"), ("周末", "週末"),
               ("审核", "審核"), ("定制", "訂製"), ("尽快", "儘快"), ("扣子", "釦子"), ("才买", "才買"))
S2T_CHARS = dict(zip(
    "专东两个为么买亏亲从们价优会体偿兑关内减几划则刚别办务动单压参双发号后吗听员响喽围国图圆坏块垫声壳壶处复头妈宝实审宽对将"
    "尴尽帐带帮库应开异张当态户扫扰护换攒断无旧时显晒机杀杂权来柜样槛欢气没渍温湿满灯灵炉点烂烦状猕现电着码确礼种积签类紧红级"
    "纸线经绒结给续维网联肿胶脑脸范蓝补袜装裤见规订认让记评诉试说请谁谢账货质购贴贵费赞赠车转输边过运还这进连适选递遥邮酱里钱"
    "链锅错键门问间闸阔队静页预领题颜风饭马驿鲜麽",
    "專東兩個為麼買虧親從們價優會體償兌關內減幾劃則剛別辦務動單壓參雙發號後嗎聽員響嘍圍國圖圓壞塊墊聲殼壺處復頭媽寶實審寬對將"
    "尷盡帳帶幫庫應開異張當態戶掃擾護換攢斷無舊時顯曬機殺雜權來櫃樣檻歡氣沒漬溫濕滿燈靈爐點爛煩狀獼現電著碼確禮種積簽類緊紅級"
    "紙線經絨結給續維網聯腫膠腦臉範藍補襪裝褲見規訂認讓記評訴試說請誰謝帳貨質購貼貴費贊贈車轉輸邊過運還這進連適選遞遙郵醬裡錢"
    "鏈鍋錯鍵門問間閘闊隊靜頁預領題顏風飯馬驛鮮麼"))


def to_traditional(text: str) -> str:
    for simplified, traditional in S2T_PHRASES:
        text = text.replace(simplified, traditional)
    return "".join(S2T_CHARS.get(char, char) for char in text)


@dataclass
class Voice:
    """One shopper's way of writing, fixed for the whole conversation."""
    rng: random.Random
    register: str            # "app" (app chat) or "live" (came from the live room)
    traditional: bool
    emoji: float             # chance of an emoji / particle ending
    typos: float             # chance that each known slip is made

    @classmethod
    def draw(cls, rng: random.Random) -> "Voice":
        register = "live" if rng.random() < 0.35 else "app"
        return cls(rng, register, traditional=rng.random() < 0.1,
                   emoji=0.55 if register == "live" else 0.3,
                   typos=rng.choice((0.0, 0.0, 0.15, 0.35)))

    def say(self, text: str, first: bool = False) -> str:
        rng = self.rng
        for word, slips in TYPOS:
            if word in text and rng.random() < self.typos:
                text = text.replace(word, rng.choice(slips), 1)
        if first:
            openers = LIVE_OPENERS if self.register == "live" else APP_OPENERS
            text = rng.choice(openers) + text
        if rng.random() < self.emoji:
            endings = LIVE_ENDINGS if self.register == "live" else APP_ENDINGS
            text = text.rstrip("。") + rng.choice(endings)
        if self.register == "live" and rng.random() < 0.3:
            text = text.replace("，", " ")
        if self.traditional:
            text = to_traditional(text)
        return text


def fill(rng: random.Random, template: str, **values) -> str:
    """A template with {name} pieces; a list value is a choice."""
    chosen = {name: (rng.choice(value) if isinstance(value, (list, tuple)) else value)
              for name, value in values.items()}
    if "{new_price}" in template and "new_price" not in chosen:
        chosen["old_price"], chosen["new_price"] = rng.choice(PRICE_PAIRS)
    chosen.update({name: rng.choice(options) for name, options in PIECES.items()
                   if "{" + name + "}" in template and name not in chosen})
    return template.format(**chosen)


# What was paid, and the lower price seen afterwards.
PRICE_PAIRS = [("199", "169"), ("299", "249"), ("159", "129"), ("89", "69"), ("459", "399"),
               ("129", "99"), ("369", "319"), ("239", "199"), ("99", "79.9"), ("1099", "999")]
PIECES: Dict[str, Sequence[str]] = {
    "ago": ["昨天", "前天", "三天前", "上周", "5号", "双十一那天", "上个月底", "前几天", "一周前",
            "大前天", "周末", "刚刚", "两天前", "月初"],
    "drop": ["降了30", "便宜了20多块", "少了五十", "直接降了一百", "降了15元", "便宜了快一半",
             "又降了40", "比我买的少了三十几", "便宜了80块钱"],
    "diff": ["20", "30", "五十", "15", "一百", "40", "60", "八十", "二十几", "十几"],
    "days": ["两", "三", "四", "五", "六", "七", "好几", "十来"],
    "points": ["200", "500", "1000", "三百", "两千多", "八百", "120", "快一千"],
    "gadget": ["吹风机", "空气炸锅", "电饭煲", "台灯", "加湿器", "蓝牙耳机", "平板", "电动牙刷",
               "手机", "微波炉", "扫地机", "电水壶"],
    "any_product": ["连衣裙", "羽绒服", "面霜", "口红", "空气炸锅", "耳机", "平板", "电饭煲",
                    "四件套", "运动鞋", "吹风机", "保温杯", "羊毛衫", "猕猴桃", "积木"],
}


# --------------------------------------------------------------------------------------
# What shoppers say
# --------------------------------------------------------------------------------------

# Corrections: several match bot/policy/trainer.yml `correction_phrases`, some do not.
CORRECTIONS = ["不是这个问题", "你理解错了", "不是这个意思", "答非所问", "我不是问这个",
               "我说的不是这个", "搞错了吧", "不对不对", "你没懂我意思", "牛头不对马嘴"]

PRICE_OPENERS = [
    "{ago}买的{any_product}，今天一看{drop}，能补差价吗",
    "买完就降价了，能不能退差价啊",
    "你们家支持价保吗？买了没几天就降了",
    "保价期是多久啊",
    "{any_product}我{ago}{old_price}买的，现在{new_price}，差价怎么算",
    "刚付完款就降价，差价退我一下吧",
    "能申请价格保护吗，{ago}下的单，现在便宜了",
    "请问有价保吗？多少天以内降价可以补",
    "买贵了😭 能退差价不",
    "价保在哪申请啊，订单页面没找到入口",
    "{any_product}降价了，价保能保几天",
    "有跌价补偿吗？{ago}买的{any_product}现在直播间便宜好多",
    "差价是退到原账户还是给优惠券啊",
    "申请了价保一直没反应，多久能处理",
    "我朋友今天买{any_product}比我便宜{diff}块，我能补回来吗",
    "降价了可以退差吗，东西没问题就是买早了",
    "今晚直播间的{any_product}比我上周买的低好多，能保价么",
    "买了{any_product}第二天就降价，心态崩了，能不能补点差价",
    "我看现在到手价{new_price}，我当时付了{old_price}，这差价咋整",
    "价格保护是几天？7天还是15天",
    "降价补差是自动退的吗，还是要我自己申请",
    "预售付了定金，现在现货比预售价还便宜，能退差价吗",
    "买了两件，第二件下单时就降价了，第一件能补吗",
    "保价是只保你们店的价格还是全网比价",
    "是不是过了价保期就不能补差价了",
    "刚下单就降价 我要价保！",
    "昨天{old_price}今天{new_price}，我是冤种吗🙃 给补差价不",
    "下单后{days}天降价能退差价吗",
    "买完降价了，差价能返我吗",
    "直播间价格比我付的便宜{diff}，你们保价不",
    "同一个链接，我买完隔天就降价了，怎么说",
    "活动价比我买的时候低了{diff}元，我这单能按活动价算吗",
    "价保申请提交了，差价什么时候到账",
    "我这单还在价保期内吗",
    "你们价保规则发我看看",
]
PRICE_REPHRASES = [
    "我问的是价保，就是买完降价能不能补差价",
    "东西没问题，我是想问降价以后差价能不能退",
    "价格保护！买完就降价了那种",
    "不是投诉，就问问你们有没有保价服务",
    "我就想知道保价期几天",
    "降价补差价，懂吗",
    "买早了亏了差价，想申请价保",
    "我说的是价保，降价了退差价",
    "就是降价了能不能把差的钱退给我",
    "保价！保价！买了就降价",
]
PRICE_FOLLOWUPS = ["那价保要怎么申请", "差价多久能到账", "超过七天还能保价吗", "那我这单能保吗",
                   "保价是退现金还是退优惠券", "直播间的价格也算吗", "那以后买之前是不是要先问问会不会降"]

POINTS_OPENERS = [
    "积分怎么还没到账，确认收货都{days}天了",
    "我的会员积分少了{points}分，怎么回事",
    "积分能抵现吗？多少积分抵一块钱",
    "积分什么时候过期啊",
    "会员等级怎么升，买了好多次了还是普通会员",
    "积分换的东西在哪里领",
    "下单的时候积分抵扣选不了是为什么",
    "每天签到的积分没加上",
    "买东西返的积分在哪里看",
    "会员日是不是有双倍积分",
    "退了款之后积分会被扣掉吗",
    "上次说好双倍积分，结果只给了一倍",
    "积分兑换一直显示库存不足",
    "积分商城进不去",
    "我的积分清零了？？之前有{points}",
    "会员积分可以转给家里人用吗",
    "用积分抵扣了之后退货，积分还给我吗",
    "新人入会送的积分没看到",
    "积分可以和优惠券一起用吗",
    "会员积分到底有什么用",
    "买了{any_product}怎么一分积分都没给",
    "积分抵现最多能抵多少",
    "我攒了{points}积分，能换点啥",
    "黑卡会员有什么权益，积分翻倍吗",
    "评价晒图送的积分没到",
]
POINTS_REPHRASES = [
    "我问的是积分，会员积分", "就是买东西送的积分没到账啊", "积分！不是退款",
    "跟订单没关系，我问会员积分的事", "我是说积分能不能当钱用", "会员积分，积分，积分",
]
POINTS_FOLLOWUPS = ["那积分一般几天到", "积分在哪个页面看", "那过期的积分还能恢复吗",
                    "积分抵扣有门槛吗", "会员升级要多少积分"]

TRADE_IN_OPENERS = [
    "你们有以旧换新活动吗",
    "家里旧{gadget}能折价换新的吗",
    "以旧换新怎么弄，旧的能抵多少钱",
    "以旧换新的旧机要自己寄过去吗",
    "旧{gadget}你们回收吗，想换个新的",
    "以旧换新的补贴什么时候到账",
    "以旧换新是上门收旧的吗",
    "以旧换新评估价也太低了吧，才给{diff}块",
    "国补以旧换新能参加吗",
    "以旧换新和优惠券能一起用吗",
    "旧的{gadget}坏了也能参加以旧换新吗",
    "想用旧{gadget}换你们家新款，流程是啥",
    "以旧换新下单后旧的多久来收",
    "以旧换新抵的钱是直接减还是返现",
    "不是你们家买的旧{gadget}也能换吗",
]
TRADE_IN_REPHRASES = [
    "不是换货，是以旧换新，拿旧的抵钱买新的", "我说的是旧的折价换新款",
    "以旧换新活动啊，旧东西抵钱那种", "我没买错东西，是想拿旧{gadget}抵钱买新的",
]
TRADE_IN_FOLLOWUPS = ["那旧的要包装盒吗", "折价大概多少", "能上门取吗", "哪些品类能换"]

TOPIC_TEXTS = {
    "price_protection": (PRICE_OPENERS, PRICE_REPHRASES, PRICE_FOLLOWUPS),
    "points": (POINTS_OPENERS, POINTS_REPHRASES, POINTS_FOLLOWUPS),
    "trade_in": (TRADE_IN_OPENERS, TRADE_IN_REPHRASES, TRADE_IN_FOLLOWUPS),
}
# The category button a shopper might click when the bot offers the five categories.
TOPIC_BUTTON = {"price_protection": "/complain_transaction", "points": "/complain_transaction",
                "trade_in": "/complain_return"}
NO_ORDER_ANSWERS = ["我就问问，不用查订单", "还没买呢，先问问规则", "订单号在哪看啊",
                    "问个规则而已，还要订单号？", "不用订单号吧，我就想了解一下"]
ENDINGS_GIVE_UP = ["算了", "好吧", "行吧我自己找找", "算了，问了也白问", "？？？",
                   "听不懂我说啥是吧", "那我晚点再问", "好的吧"]
ENDINGS_THANKS = ["好的谢谢", "知道了，谢谢", "ok 谢谢", "嗯嗯好的", "谢谢亲", "好的，辛苦了"]
ENDINGS_BYE = ["拜拜", "先这样吧，再见", "好的 再见", "没事了，拜拜"]
ASK_HUMAN = ["转人工", "我要找真人客服", "人工客服在哪", "机器人别回了，叫人工来",
             "能不能让真人跟我说", "有没有活人啊", "人工！人工！", "帮我转一下人工客服",
             "跟机器人说不清，转人工吧", "找你们客服主管"]
BEFORE_HUMAN = ["我有个问题比较复杂", "上次的事还没解决", "我想投诉", "你们这个机器人能解决问题吗",
                "问题说不清楚，打字太麻烦"]
WAITING = ["好的，我等着", "那快点啊", "行，等人工", "多久能来人啊", "嗯嗯"]

GREETINGS = ["你好", "在吗", "哈喽", "客服在不在", "有人吗", "您好", "亲在吗", "hi", "主播好",
             "早上好", "晚上好呀"]
SMALL_TALK = ["东西收到了，很喜欢，谢谢", "主播人真好👍", "yyds，已经回购了", "衣服质量不错，好评",
              "发货挺快的，点赞", "上次买的面霜很好用", "支持一下，一直在你们家买", "没事了，就是来说声谢谢",
              "包装很用心，给你们点个赞"]

RETURN_POLICY = ["七天无理由退货运费谁出", "拆了包装还能退吗", "定制的东西可以退吗",
                 "退货以后多久能退款", "生鲜水果能退吗", "退货要自己寄回去吗", "衣服试穿过了还能退吗",
                 "过了七天还能退吗", "退货地址是哪里", "退货包邮吗", "杂志买错了能退吗",
                 "会员卡激活了还能退吗", "七天无理由从哪天开始算"]
CASE_STATUS = ["我那个投诉处理到哪了", "上次的售后有进度吗", "帮我查下案件进度", "我的工单现在什么状态",
               "之前登记的问题处理好了没", "售后进度怎么查", "退款处理得怎么样了"]
CHATTER = ["主播今晚几点开播", "这个有黑色吗", "链接在哪里", "能便宜点吗", "什么时候上新",
           "包邮吗", "发什么快递", "主播身高多少", "福袋怎么抽", "3号链接还有货吗", "扣1",
           "这件165能穿吗", "今天有秒杀吗", "主播穿的是哪个码", "明天还播吗"]

# Complaints, by the kind of goods: (mild, severe) wordings of a quality problem.
QUALITY = {
    "clothes": (["{p}线头好多，做工有点粗糙", "{p}有点色差，跟图片不太一样", "{p}洗了一次有点起球",
                 "{p}袖口有个小污渍", "{p}尺码偏小，平时穿M这个M有点紧"],
                ["{p}才穿一次就开线了", "{p}拉链坏了拉不上", "{p}领口破了个洞",
                 "收到的{p}和描述不符，面料完全不一样"]),
    "shoes": (["{p}有股胶水味", "{p}鞋面有点小划痕"],
              ["{p}穿了两天鞋底就开胶了", "{p}两只鞋大小不一样", "{p}鞋跟断了"]),
    "bag": (["{p}五金有点氧化", "{p}走线有点歪"], ["{p}肩带断了", "{p}皮面裂开了"]),
    "appliance": (["{p}噪音有点大", "{p}外壳有道划痕", "{p}用起来有点异味"],
                  ["{p}用了两天就坏了", "{p}插上电没反应", "{p}按键失灵了"]),
    "gadget": (["{p}续航没有说的那么久", "{p}屏幕边上有个小亮点"],
               ["{p}开不了机", "{p}充不进电", "{p}一边没声音"]),
    "food": (["{p}个头比图片小好多", "{p}有几个磕碰了"], ["{p}好几个都烂了", "{p}收到就不新鲜，有的坏了"]),
    "beauty": (["{p}外包装有点压痕", "{p}味道跟之前买的不太一样"],
               ["{p}是不是假货，跟专柜的不一样", "{p}膏体断了", "{p}瓶子漏液了"]),
    "kids": (["{p}有个小地方掉漆了", "{p}盒子里灰有点多"], ["{p}少了好几个零件", "{p}收到就是坏的"]),
    "home": (["{p}有点异味", "{p}边角有线头"], ["{p}漏水", "{p}破了个洞"]),
    "digital": (["{p}激活码发了但是页面一直转圈"], ["{p}显示已激活但是用不了"]),
    "print": (["{p}有几页折角了"], ["{p}缺页了"]),
    "custom": (["{p}刻的字有点歪"], ["{p}刻错字了", "{p}扣子断了"]),
    "goods": (["{p}有点小瑕疵"], ["{p}收到就是坏的"]),
}
QUALITY_CONTEXT = ["", "", "", "才买没几天，", "给我妈买的，", "送人的礼物，这下尴尬了，", "孩子生日要用的，",
                   "等了好久才到，", "第二次买了，"]
LOGISTICS = {
    "paid": ["{p}付款好几天了怎么还不发货", "拍下{p}都{days}天了还没发货，什么时候发",
             "说好48小时发货，{p}到现在没动静"],
    "shipped": ["{p}的物流{days}天没更新了", "{carrier}的快递也太慢了，{p}还在路上",
                "查了物流一直显示运输中，{p}到底在哪", "快递员说{p}今天送，结果又没送"],
    "delivered": ["物流显示{p}已经签收了，可我根本没收到", "{p}的快递盒子压扁了，里面东西不知道有没有事"],
    "delivered_mild": ["{p}被放在驿站也不通知我，差点退回去", "快递员没打电话就把{p}放门口了",
                       "{p}到了好几天才送上门，比说好的晚太多"],
}
SERVICE = ["之前问客服{p}的问题，一直没人回", "客服回复太慢了，等了一下午", "客服每次都让我等，问来问去踢皮球",
           "上次客服答应给我补{p}的运费，到现在没兑现", "客服态度太差了，问两句就不耐烦",
           "客服就会复制粘贴，敷衍了事", "留言三天了没有任何客服联系我"]
RETURNS = {
    "delivered": ["{p}不太合适，想退货怎么操作", "退货申请提交三天了还没审核", "{p}有问题想退，运费谁出",
                  "{p}能七天无理由退吗，还没拆封", "{p}不想要了，能退吗"],
    "wearable": ["{p}尺码大了，能换小一码吗", "想把{p}换个颜色", "{p}穿着不好看，想退"],
    "refunded": ["{p}退货寄回去一周了，退款怎么还没到", "退款显示成功了，钱没到账啊"],
}
TRANSACTION = {
    # The live-room promise: the bot refunds the difference itself.
    "promise": ["主播说{p}到手价{new_price}，我付了{old_price}", "直播间说{p}{new_price}块，怎么扣了我{old_price}块",
                "{p}直播间说好的{new_price}元，结算变成{old_price}元了"],
    "other": ["下单{p}的时候优惠券没用上，多付了{diff}块", "付款的时候扣了两次钱", "{p}的发票怎么开",
              "领了满减券下单没减"],
    "gift": ["直播间说买{p}送赠品，我没收到赠品"],
    "cancelled": ["我的{p}订单莫名其妙被取消了", "{p}的订单怎么自己取消了，钱还扣了"],
}
DESCRIPTIONS = ["就是刚才说的那样，挺影响使用的", "收到就发现了，一直没用", "东西是好的就是跟说的不一样",
                "拆开就这样，我也没办法", "具体就是这个问题，麻烦尽快处理"]
CANNOT_PHOTO = ["拍不了", "现在不在家，没法拍", "东西扔了，没照片", "手机坏了拍不了", "不方便拍",
                "已经退回去了，没留图", "在上班，东西不在身边"]
REMEDY_TYPED = {"退款": ["退款吧", "直接退钱", "我要退款"], "换货": ["换个新的", "给我换一个"],
                "维修": ["能修就修一下吧"], "补偿": ["给点补偿就行", "补偿一下吧"],
                "听你们安排": ["都行，你们看着办", "听你们的"]}
ACCEPT_TYPED = ["可以", "行吧，就这样", "好的，同意", "ok", "嗯可以的", "接受"]
DECLINE_TYPED = ["不行，太少了", "不要这个", "这个不接受", "不同意", "我不要优惠券"]
ORDER_TYPED = ["{id}", "{id}", "订单号：{id}", "{id} 这个", "是这单 {id}", "单号{id}"]
WRONG_ORDER = ["订单不对，我说的是{p}那单：{id}", "我说的是{p}，订单号{id}", "是{p}那个订单 {id}"]

# Goods in the demo orders, by a word in the item name: what shoppers call it, its kind.
GOODS: Tuple[Tuple[str, str, str], ...] = (
    ("连衣裙", "连衣裙", "clothes"), ("羊毛衫", "羊毛衫", "clothes"), ("围巾", "围巾", "clothes"),
    ("T恤", "T恤", "clothes"), ("羽绒服", "羽绒服", "clothes"), ("袜", "袜子", "clothes"),
    ("运动鞋", "运动鞋", "shoes"), ("斜挎包", "包包", "bag"), ("耳机", "耳机", "gadget"),
    ("平板电脑", "平板", "gadget"), ("保护壳", "保护壳", "home"), ("空气炸锅", "空气炸锅", "appliance"),
    ("电饭煲", "电饭煲", "appliance"), ("台灯", "台灯", "appliance"), ("吹风机", "吹风机", "appliance"),
    ("牙刷", "电动牙刷", "appliance"), ("加湿器", "加湿器", "appliance"), ("猕猴桃", "猕猴桃", "food"),
    ("车厘子", "车厘子", "food"), ("大闸蟹", "大闸蟹", "food"), ("面霜", "面霜", "beauty"),
    ("口红", "口红", "beauty"), ("洗发水", "洗发水", "beauty"), ("积木", "积木", "kids"),
    ("遥控", "遥控车", "kids"), ("纸尿裤", "纸尿裤", "kids"), ("水杯", "水杯", "home"),
    ("保温杯", "保温杯", "home"), ("瑜伽垫", "瑜伽垫", "home"), ("四件套", "四件套", "home"),
    ("抱枕", "抱枕", "custom"), ("手链", "手链", "custom"), ("会员年卡", "会员卡", "digital"),
    ("点卡", "点卡", "digital"), ("芭莎", "杂志", "print"),
)


# --------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Order:
    order_id: str
    shopper_id: str
    tier: str
    status: str
    item_name: str     # the first item that is not a gift, as the shop names it
    goods: str         # what the shopper calls it
    kind: str
    carrier: str
    has_gift: bool
    price: float       # that item's unit price


def load_orders(path: Path) -> List[Order]:
    data = json.loads(path.read_text(encoding="utf-8"))
    orders = []
    for raw in data["orders"] if isinstance(data, dict) else data:
        items = [i for i in raw["items"] if not i["name"].startswith("赠品")] or raw["items"]
        name = items[0]["name"]
        goods, kind = next(((g, k) for word, g, k in GOODS if word in name),
                           (name.split()[0][-4:], "goods"))
        orders.append(Order(str(raw["order_id"]), raw["shopper_id"], raw.get("tier") or "regular",
                            raw["status"], name, goods, kind, raw.get("carrier") or "快递",
                            len(items) < len(raw["items"]), float(items[0]["price"])))
    return orders


def categories_for(order: Order) -> Tuple[str, ...]:
    return {"paid": ("logistics", "transaction", "service"),
            "shipped": ("logistics", "transaction", "service"),
            "delivered": ("quality", "return", "logistics", "transaction", "service"),
            "cancelled": ("transaction", "service"),
            "refunded": ("return", "service")}.get(order.status, ("service",))


# --------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------

@dataclass
class Conversation:
    index: int
    kind: str
    sender: str
    seed: str
    category: Optional[str] = None
    order: Optional[Order] = None
    risky: bool = False          # likely to end with a person (see write_complaint)
    opening: List[str] = field(default_factory=list)   # the first message(s), fixed by the plan
    later: Dict[str, object] = field(default_factory=dict)

    def describe(self) -> str:
        about = f" {self.category} {self.order.order_id}" if self.order else ""
        return f"#{self.index:04d} {self.kind:<16} {self.sender:<22}{about} | " + " / ".join(self.opening)


def allocate(total: int) -> Dict[str, int]:
    """Conversations per kind: the shares of KIND_SHARES, by largest remainder."""
    exact = [(kind, share * total) for kind, share in KIND_SHARES]
    counts = {kind: int(value) for kind, value in exact}
    left = total - sum(counts.values())
    for kind, value in sorted(exact, key=lambda kv: -(kv[1] - int(kv[1])))[:left]:
        counts[kind] += 1
    return counts


def plan(total: int, seed: int, orders: Sequence[Order]) -> List[Conversation]:
    """Every conversation of the run, with its sender and opening, in the order they start."""
    rng = random.Random(f"plan:{seed}")
    kinds = [kind for kind, count in allocate(total).items() for _ in range(count)]
    rng.shuffle(kinds)
    conversations = [Conversation(i, kind, f"sample-{seed}-{i:04d}", f"{seed}:{i}")
                     for i, kind in enumerate(kinds)]

    by_shopper: Dict[str, List[Order]] = {}
    for order in orders:
        by_shopper.setdefault(order.shopper_id, []).append(order)
    load: Counter = Counter({shopper: 0 for shopper in by_shopper})
    used: Counter = Counter()
    categories = [CATEGORIES[i % len(CATEGORIES)] for i in range(kinds.count("complaint"))]
    rng.shuffle(categories)
    complaints = [c for c in conversations if c.kind == "complaint"]
    for conversation, category in zip(complaints, categories):
        fits = [s for s in by_shopper if any(category in categories_for(o) for o in by_shopper[s])]
        shopper = min(fits, key=lambda s: (load[s], rng.random()))
        load[shopper] += 1
        candidates = [o for o in by_shopper[shopper] if category in categories_for(o)]
        order = min(candidates, key=lambda o: (used[o.order_id], rng.random()))
        used[order.order_id] += 1
        conversation.sender, conversation.category, conversation.order = shopper, category, order
    # Half the case-status questions come from shoppers who complained today.
    complained = sorted({c.sender for c in complaints})
    for conversation in (c for c in conversations if c.kind == "case_status"):
        if complained and rng.random() < 0.5:
            conversation.sender = rng.choice(complained)

    for conversation in conversations:
        write_opening(conversation)
    # A conversation a person takes pauses the bot for that shopper until an agent hands
    # back: a demo shopper has at most one such conversation, run last (schedule()).
    risky_seen = set()
    for conversation in conversations:
        if conversation.risky:
            if conversation.sender in risky_seen:
                write_opening(conversation, calm=True)
            risky_seen.add(conversation.sender)
    return conversations


def write_opening(c: Conversation, calm: bool = False) -> None:
    """The first message(s) and the shopper's choices. `calm`: a complaint that should
    not need a person (a mild problem, the first offer accepted)."""
    rng = random.Random(f"open:{c.seed}")
    c.opening, c.later, c.risky = [], {}, False
    voice = Voice.draw(rng)
    c.later["voice"] = (voice.register, voice.traditional, voice.emoji, voice.typos)
    greet_first = rng.random() < 0.2
    if greet_first and c.kind not in ("small_talk", "chatter"):
        c.opening.append(voice.say(rng.choice(GREETINGS)))
    if c.kind == "complaint":
        write_complaint(c, rng, voice, first=not greet_first, calm=calm)
    elif c.kind in UNKNOWN_TOPICS:
        openers, rephrases, followups = TOPIC_TEXTS[c.kind]
        c.opening.append(voice.say(fill(rng, rng.choice(openers)), first=not greet_first))
        c.later["correct"] = rng.random() < 0.45
        c.later["correction"] = rng.choice(CORRECTIONS)
        c.later["correction_joined"] = rng.random() < 0.5
        c.later["correction_parts"] = 1 if c.later["correction_joined"] else 2
        c.later["rephrase"] = fill(rng, rng.choice(rephrases))
        c.later["followup"] = fill(rng, rng.choice(followups)) if rng.random() < 0.35 else None
        c.later["ending"] = rng.choice(["thanks", "bye", "give_up", "give_up", "human", None, None])
    elif c.kind == "small_talk":
        c.opening.append(voice.say(rng.choice(GREETINGS)))
        c.later["queue"] = [voice.say(t) for t in rng.sample(SMALL_TALK, 1)
                            + [rng.choice(ENDINGS_THANKS + ENDINGS_BYE)]]
    elif c.kind == "return_policy":
        first, second = rng.sample(RETURN_POLICY, 2)
        c.opening.append(voice.say(first, first=not greet_first))
        c.later["queue"] = ([voice.say(second)] if rng.random() < 0.35 else []) + \
            [voice.say(rng.choice(ENDINGS_THANKS))]
    elif c.kind == "case_status":
        c.opening.append(voice.say(rng.choice(CASE_STATUS), first=not greet_first))
        c.later["queue"] = [voice.say(rng.choice(ENDINGS_THANKS + ENDINGS_GIVE_UP))]
    elif c.kind == "human":
        if rng.random() < 0.5:
            topic = rng.choice(RETURN_POLICY + CHATTER + BEFORE_HUMAN)
            c.opening.append(voice.say(topic, first=not greet_first))
            c.later["queue"] = [voice.say(rng.choice(ASK_HUMAN))]
        else:
            c.opening.append(voice.say(rng.choice(ASK_HUMAN), first=not greet_first))
            c.later["queue"] = []
        c.later["queue"].append(voice.say(rng.choice(WAITING)))
    elif c.kind == "chatter":
        c.opening.append(voice.say(rng.choice(CHATTER), first=True))
        c.later["queue"] = [voice.say(rng.choice(CHATTER))] if rng.random() < 0.4 else []


def write_complaint(c: Conversation, rng: random.Random, voice: Voice, first: bool,
                    calm: bool = False) -> None:
    """The complaint and the shopper's answers. Sets `risky` when a person will likely
    take the conversation: the shopper declines or asks for one, a loyal shopper's
    problem that makes the goods unusable (PRODUCT.md: loyal + severity 2 → a person), a
    transaction dispute the bot may not settle alone (charged twice, invoices, coupons,
    cancelled orders go above the auto-approval cap). `calm` writes one that is not."""
    order = c.order
    assert order is not None and c.category is not None
    loyal = order.tier == "loyal"
    if calm and (c.category == "transaction" and order.status == "cancelled"
                 or c.category == "logistics" and loyal and order.status in ("paid", "shipped")):
        c.category = "service"
    category, p = c.category, order.goods
    needs_person = False
    if category == "quality":
        mild, severe = QUALITY.get(order.kind, QUALITY["goods"])
        severe_one = rng.random() < 0.6 and not calm
        needs_person = loyal and severe_one
        text = rng.choice(QUALITY_CONTEXT) + fill(rng, rng.choice(severe if severe_one else mild), p=p)
    elif category == "logistics":
        status = order.status
        severe_one = status == "delivered" and rng.random() < 0.5 and not calm
        if status == "delivered" and not severe_one:
            status = "delivered_mild"
        # Paid or shipped orders of the demo are more than a week old: severity 2 by date.
        needs_person = loyal and (severe_one or status in ("paid", "shipped"))
        text = fill(rng, rng.choice(LOGISTICS.get(status, LOGISTICS["shipped"])), p=p,
                    carrier=order.carrier)
    elif category == "service":
        text = fill(rng, rng.choice(SERVICE), p=p)
    elif category == "return":
        pool = RETURNS.get(order.status, RETURNS["delivered"])
        if order.status == "refunded":
            pool = pool[1:] if calm else pool
            needs_person = loyal and not calm
        elif order.status == "delivered" and order.kind in ("clothes", "shoes"):
            pool = pool + RETURNS["wearable"]
        text = fill(rng, rng.choice(pool), p=p)
    else:
        if order.status == "cancelled":
            pool, needs_person = TRANSACTION["cancelled"], True
        elif calm or rng.random() < 0.35:
            pool = TRANSACTION["promise"] + (TRANSACTION["gift"] if order.has_gift else [])
        else:
            pool = TRANSACTION["other"]
            needs_person = True
        paid = order.price
        promised = max(paid - rng.choice((10, 20, 30, 50)), int(paid * 0.8))
        text = fill(rng, rng.choice(pool), p=p, old_price=f"{paid:g}", new_price=f"{promised:g}")
    # App chat shares the order card; some shoppers paste the number with the complaint.
    if rng.random() < 0.3:
        text = rng.choice([f"订单{order.order_id}，", f"{order.order_id} ", f"单号{order.order_id}："]) + text
    c.opening.append(voice.say(text, first=first))
    offer = rng.choices(["accept", "accept_typed", "decline_then_accept", "decline_twice", "human"],
                        weights=[55, 20, 13, 6, 6])[0]
    c.later.update(
        offer="accept" if calm and offer not in ("accept", "accept_typed") else offer,
        human_midway=rng.random() < 0.05 and not calm,
        photo="photo" if rng.random() < 0.25 else "cannot",
        remedy=rng.choice(["退款", "退款", "换货", "补偿", "维修", "听你们安排"]),
        remedy_typed=rng.random() < 0.3,
        order_button=rng.random() < 0.7,
        closing=rng.choice(["thanks", "thanks_bye", "bye", None]),
    )
    # Declining once may already end with a person: some remedies come alone.
    c.risky = (c.later["offer"] in ("decline_then_accept", "decline_twice", "human")
               or bool(c.later["human_midway"]) or needs_person)


def schedule(conversations: Sequence[Conversation]) -> List[List[Conversation]]:
    """Conversations of one sender run one after another (they share one tracker), a
    demo shopper's case-status question after their complaints and the planned hand-off
    last; different senders run side by side, the longest days first."""
    groups: Dict[str, List[Conversation]] = {}
    for conversation in conversations:
        groups.setdefault(conversation.sender, []).append(conversation)
    ordered = [sorted(group, key=lambda c: (c.risky, c.kind == "case_status", c.index))
               for group in groups.values()]
    return sorted(ordered, key=lambda group: (-len(group), group[0].index))


# --------------------------------------------------------------------------------------
# Reading the bot's answers
# --------------------------------------------------------------------------------------

# The bot's wordings (domain.yml, bot/replies/*.yml, bot/policy/handoff.yml) the shopper
# reacts to. Replies not recognised count as an answer: the shopper goes on with the plan.
FALLBACK_MARKS = ("没太看明白", "连着没看明白", "回答不了", "超出了我能帮忙的范围")
ORDER_FOUND = re.compile(r"订单核实好了：(.+?)（")


@dataclass
class BotTurn:
    texts: List[str]
    state: str                   # what the bot waits for
    payloads: List[str]
    fallback: int                # replies that say it did not understand
    escalated: bool
    order_found: Optional[str]

    @classmethod
    def read(cls, replies: List[Dict]) -> "BotTurn":
        texts = [r.get("text") or "" for r in replies]
        last = replies[-1] if replies else {}
        payloads = [str(b.get("payload", "")) for b in last.get("buttons") or []]
        text = last.get("text") or ""
        joined = "\n".join(texts)
        fallback = sum(1 for r in replies
                       if any(m in (r.get("text") or "") for m in FALLBACK_MARKS)
                       or any(str(b.get("payload", "")).startswith("/complain_")
                              for b in r.get("buttons") or []))
        escalated = "转接人工客服" in joined or "人工客服队列" in joined
        found = ORDER_FOUND.search(joined)
        if not replies:
            state = "silent"
        elif escalated:
            state = "escalated"
        elif "/affirm" in payloads:
            state = "offer"
        elif any(p.startswith("/complain_") for p in payloads):
            state = "clarify"
        elif (payloads and all(p.isdigit() for p in payloads)) or "麻烦发一下订单号" in text:
            state = "ask_order"
        elif "拍一张" in text or ("照片" in text and "拍" in text):
            state = "ask_photo"
        elif "退款" in payloads or "您希望怎么处理" in text:
            state = "ask_remedy"
        elif "具体遇到了什么问题" in text:
            state = "ask_description"
        elif "已为您办理" in joined or "已处理完成" in joined:
            state = "resolved"
        else:
            state = "answered"
        return cls(texts, state, payloads, fallback, escalated, found.group(1) if found else None)


# --------------------------------------------------------------------------------------
# Shoppers
# --------------------------------------------------------------------------------------

Message = Tuple[str, Optional[List[Dict[str, str]]]]   # text, attachments


def photo_data_url(rng: random.Random) -> str:
    """A small PNG of a 'product close-up' (colour bands and noise), made here."""
    width, height = 96, 72
    base = [rng.randrange(60, 220) for _ in range(3)]
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            shade = (x * 3 + y * 2) % 40 + rng.randrange(0, 12)
            row += bytes(min(255, b + shade) for b in base)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class Shopper:
    """Says the opening, then answers the bot: what the plan fixed, adapted to the bot."""

    def __init__(self, conversation: Conversation) -> None:
        self.c = conversation
        self.rng = random.Random(f"talk:{conversation.seed}")
        register, traditional, emoji, typos = conversation.later["voice"]
        self.voice = Voice(self.rng, register, traditional, emoji, typos)
        self.opening = list(conversation.opening)
        self.queue: List[str] = list(conversation.later.get("queue", []))
        self.clicked = False
        self.waited = False
        self.said_no_order = False
        self.corrections = 0         # "不是这个问题 …" messages sent
        self.seen: Counter = Counter()

    def say(self, text: str) -> Message:
        return self.voice.say(text), None

    def first(self) -> Message:
        return self.opening.pop(0), None

    def next(self, turn: BotTurn) -> Optional[Message]:
        if self.opening:
            return self.opening.pop(0), None
        self.seen[turn.state] += 1
        if self.seen[turn.state] > 3:
            return None  # going round in circles: the shopper leaves
        if turn.escalated:
            # Waiting for the agent, some write once more (stored; the bot stays quiet).
            if not self.waited and self.rng.random() < 0.3:
                self.waited = True
                return self.say(self.rng.choice(WAITING))
            return None
        return self.react(turn)

    def react(self, turn: BotTurn) -> Optional[Message]:
        if turn.state == "clarify" and not self.clicked and self.rng.random() < 0.3:
            self.clicked = True
            return self.rng.choice(turn.payloads), None
        if turn.state == "ask_order" and not self.said_no_order and self.rng.random() < 0.4:
            self.said_no_order = True
            return self.say(self.rng.choice(NO_ORDER_ANSWERS))
        if self.queue:
            return self.queue.pop(0), None
        return None


class TopicShopper(Shopper):
    """Asks about something the assistant does not know; may correct it and ask again."""

    def __init__(self, conversation: Conversation) -> None:
        super().__init__(conversation)
        later = conversation.later
        # The correction answers the bot's reply to the question, so it comes first.
        self.correcting = 0
        if later["correct"]:
            correction, rephrase = later["correction"], later["rephrase"]
            if later["correction_joined"]:
                self.queue.append(self.voice.say(f"{correction}，{rephrase}"))
            else:
                self.queue += [self.voice.say(correction), self.voice.say(rephrase)]
            self.correcting = len(self.queue)
        if later["followup"]:
            self.queue.append(self.voice.say(later["followup"]))
        ending = later["ending"]
        if ending:
            pool = {"thanks": ENDINGS_THANKS, "bye": ENDINGS_BYE, "give_up": ENDINGS_GIVE_UP,
                    "human": ASK_HUMAN}[ending]
            self.queue.append(self.voice.say(self.rng.choice(pool)))

    def react(self, turn: BotTurn) -> Optional[Message]:
        if self.correcting:
            if self.correcting == self.c.later["correction_parts"]:
                self.corrections += 1
            self.correcting -= 1
            return self.queue.pop(0), None
        if turn.state == "clarify" and not self.clicked and self.rng.random() < 0.3:
            self.clicked = True
            return TOPIC_BUTTON[self.c.kind], None
        return super().react(turn)


class ComplainingShopper(Shopper):
    """Tells a complaint about one of their orders and goes through the form and offers."""

    def __init__(self, conversation: Conversation) -> None:
        super().__init__(conversation)
        self.order = conversation.order
        self.declines = 0
        self.order_fixed = False
        self.photo_sent = False
        self.closing = {"thanks": [self.rng.choice(ENDINGS_THANKS)],
                        "thanks_bye": [self.rng.choice(ENDINGS_THANKS), self.rng.choice(ENDINGS_BYE)],
                        "bye": [self.rng.choice(ENDINGS_BYE)], None: []}[conversation.later["closing"]]

    def react(self, turn: BotTurn) -> Optional[Message]:
        later, order, rng = self.c.later, self.order, self.rng
        assert order is not None
        if (turn.order_found and order.item_name not in turn.order_found and not self.order_fixed
                and turn.state not in ("offer", "resolved")):
            # The bot took the order of an earlier complaint: name the right one.
            self.order_fixed = True
            return self.voice.say(fill(rng, rng.choice(WRONG_ORDER), p=order.goods, id=order.order_id)), None
        if later.get("human_midway") and turn.state in ("ask_photo", "ask_remedy"):
            return self.say(rng.choice(ASK_HUMAN))
        if turn.state == "clarify":
            return f"/complain_{self.c.category}", None
        if turn.state == "ask_description":
            return self.say(rng.choice(DESCRIPTIONS))
        if turn.state == "ask_order":
            if later["order_button"] and order.order_id in turn.payloads:
                return order.order_id, None
            return self.say(rng.choice(ORDER_TYPED).format(id=order.order_id))
        if turn.state == "ask_photo":
            if later["photo"] == "photo" and not self.photo_sent:
                self.photo_sent = True
                return "", [{"type": "image", "url": photo_data_url(rng)}]
            return self.say(rng.choice(CANNOT_PHOTO))
        if turn.state == "ask_remedy":
            remedy = str(later["remedy"])
            if later["remedy_typed"] or remedy not in turn.payloads:
                return self.say(rng.choice(REMEDY_TYPED[remedy]))
            return remedy, None
        if turn.state == "offer":
            return self.answer_offer(str(later["offer"]))
        if self.closing:
            return self.say(self.closing.pop(0))
        return None

    def answer_offer(self, plan: str) -> Message:
        if plan == "human":
            return "/request_human", None
        decline = plan == "decline_twice" or (plan == "decline_then_accept" and self.declines == 0)
        if decline:
            self.declines += 1
            return (self.say(self.rng.choice(DECLINE_TYPED)) if self.rng.random() < 0.3
                    else ("/deny", None))
        if plan == "accept_typed":
            return self.say(self.rng.choice(ACCEPT_TYPED))
        return "/affirm", None


def shopper_for(conversation: Conversation) -> Shopper:
    if conversation.kind == "complaint":
        return ComplainingShopper(conversation)
    if conversation.kind in UNKNOWN_TOPICS:
        return TopicShopper(conversation)
    return Shopper(conversation)


# --------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------

@dataclass
class Outcome:
    conversation: Conversation
    messages: int = 0            # shopper messages the server took
    replies: int = 0
    fallback: int = 0
    escalated: bool = False
    paused: bool = False         # the first message got no answer: a person has the conversation
    corrections: int = 0
    errors: List[str] = field(default_factory=list)


class Client:
    def __init__(self, url: str, seed: int) -> None:
        self.url = url.rstrip("/")
        self.seed = seed
        self.local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def send(self, sender: str, text: str, attachments: Optional[List[Dict[str, str]]]) -> List[Dict]:
        metadata: Dict[str, object] = {"source": SOURCE, "seed": self.seed}
        if attachments:
            metadata["attachments"] = attachments
        response = self.session().post(f"{self.url}/webhooks/rest/webhook", timeout=REQUEST_TIMEOUT,
                                       json={"sender": sender, "message": text, "metadata": metadata})
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        body = response.json()
        if not isinstance(body, list):
            raise RuntimeError(f"unexpected answer: {str(body)[:200]}")
        return body


def run_conversation(client: Client, conversation: Conversation) -> Outcome:
    outcome = Outcome(conversation)
    shopper = shopper_for(conversation)
    message: Optional[Message] = shopper.first()
    while message is not None and outcome.messages < MAX_TURNS:
        text, attachments = message
        try:
            replies = client.send(conversation.sender, text, attachments)
        except (requests.RequestException, RuntimeError, ValueError) as error:
            outcome.errors.append(f"{conversation.sender}: {error}")
            break
        outcome.messages += 1
        turn = BotTurn.read(replies)
        outcome.replies += len(replies)
        outcome.fallback += turn.fallback
        if not replies:
            # The bot is paused: a person has this shopper's conversation.
            outcome.paused = outcome.messages == 1
            break
        outcome.escalated = outcome.escalated or turn.escalated
        message = shopper.next(turn)
    outcome.corrections = shopper.corrections
    return outcome


def check_reachable(url: str) -> Optional[str]:
    """None when Rasa's REST channel answers at `url`, else what is wrong."""
    try:
        response = requests.get(f"{url.rstrip('/')}/webhooks/rest/", timeout=10)
    except requests.RequestException as error:
        return (f"cannot reach Rasa at {url} ({type(error).__name__}). "
                f"Start the stack with `make run` (it takes a minute to load the model), "
                f"or pass --url.")
    if response.status_code != 200:
        return (f"{url}/webhooks/rest/ answered HTTP {response.status_code}: is this the "
                f"assistant started with `make run`?")
    return None


def summarise(outcomes: Sequence[Outcome], url: str, seed: int, seconds: float) -> Dict[str, object]:
    per_sender: Counter = Counter()
    for outcome in outcomes:
        per_sender[outcome.conversation.sender] += outcome.messages
    errors = [e for outcome in outcomes for e in outcome.errors]
    return {
        "url": url,
        "seed": seed,
        "conversations": len(outcomes),
        "by_kind": dict(Counter(o.conversation.kind for o in outcomes)),
        "complaints_by_category": dict(Counter(o.conversation.category for o in outcomes
                                               if o.conversation.category)),
        "messages": sum(o.messages for o in outcomes),
        "bot_replies": sum(o.replies for o in outcomes),
        "fallback_conversations": sum(1 for o in outcomes if o.fallback),
        "fallback_replies": sum(o.fallback for o in outcomes),
        "corrections": sum(o.corrections for o in outcomes),
        "escalated_conversations": sum(1 for o in outcomes if o.escalated),
        "paused_conversations": sum(1 for o in outcomes if o.paused),
        "senders": len(per_sender),
        "messages_by_sender": dict(sorted(per_sender.items())),
        "errors": len(errors),
        "error_samples": errors[:5],
        "seconds": round(seconds, 1),
    }


def print_summary(summary: Dict[str, object], out=sys.stdout) -> None:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary["by_kind"].items(), key=lambda kv: -kv[1]))
    categories = ", ".join(f"{k} {v}" for k, v in sorted(summary["complaints_by_category"].items()))
    lines = [
        f"sample transcripts → {summary['url']} (seed {summary['seed']}, {summary['seconds']}s)",
        f"  conversations      {summary['conversations']} from {summary['senders']} senders: {kinds}",
        f"  complaints         {categories}",
        f"  messages sent      {summary['messages']} (bot replies {summary['bot_replies']})",
        f"  fallback/clarify   {summary['fallback_conversations']} conversations "
        f"({summary['fallback_replies']} replies)",
        f"  corrections        {summary['corrections']} (\"不是这个问题\" and the like, then asked again)",
        f"  handed to a person {summary['escalated_conversations']}; already paused "
        f"{summary['paused_conversations']}",
        f"  errors             {summary['errors']}",
    ]
    if summary["paused_conversations"]:
        lines.append("  (paused: a person still has that demo shopper's conversation, e.g. from an earlier "
                     "run; hand it back in the agent console to let the bot answer again)")
    lines += [f"    {e}" for e in summary["error_samples"]]
    print("\n".join(lines), file=out)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("RASA_URL", "http://localhost:5005"),
                        help="the Rasa server (default $RASA_URL or http://localhost:5005)")
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=4, help="conversations side by side")
    parser.add_argument("--orders", type=Path,
                        default=Path(os.environ.get("ORDER_FIXTURES") or DEFAULT_ORDERS),
                        help="the orders the stack uses (default $ORDER_FIXTURES or the demo orders)")
    parser.add_argument("--summary-json", type=Path, help="also write the summary here as JSON")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, send nothing")
    args = parser.parse_args(argv)
    if args.conversations < 1 or args.workers < 1:
        parser.error("--conversations and --workers must be at least 1")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        orders = load_orders(args.orders)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"error: cannot read the orders in {args.orders}: {error}", file=sys.stderr)
        return 2
    conversations = plan(args.conversations, args.seed, orders)
    if args.dry_run:
        for group in schedule(conversations):
            for conversation in group:
                print(conversation.describe())
        print("planned: " + ", ".join(f"{k} {n}" for k, n in allocate(args.conversations).items()))
        return 0
    problem = check_reachable(args.url)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    client = Client(args.url, args.seed)
    started = time.monotonic()
    done: List[Outcome] = []
    lock = threading.Lock()

    def run_group(group: List[Conversation]) -> None:
        for conversation in group:
            outcome = run_conversation(client, conversation)
            with lock:
                done.append(outcome)
                if len(done) % 25 == 0:
                    print(f"  … {len(done)}/{len(conversations)} conversations", file=sys.stderr)

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for future in [pool.submit(run_group, g) for g in schedule(conversations)]:
            future.result()
    done.sort(key=lambda o: o.conversation.index)
    summary = summarise(done, args.url, args.seed, time.monotonic() - started)
    print_summary(summary)
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

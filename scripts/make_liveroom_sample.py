#!/usr/bin/env python3
"""Generate data/liveroom/sample_stream.jsonl: one recorded live-sale comment stream.

Deterministic (fixed seed), Python 3 standard library only. Every text fragment below was
written for this file; nothing is taken from the NLU training data, the test data or any
outside benchmark.

    .venv/bin/python scripts/make_liveroom_sample.py            # writes the file, prints counts
    .venv/bin/python scripts/make_liveroom_sample.py --stdout   # prints the stream instead

The stream is a ~100 s slice of the evening show of a clothing-and-home shop ("阿May优选",
room-8848) on 2024-06-18 from 20:03 Beijing time: a 福袋 (lucky bag) announcement, a flash
price (秒杀) on link 3 and a "扣1" call make three bursts; two product explanations are quieter.

Labels: "complaint" (about an order already bought; one of five categories, kept only in this
script), "request_human" (asks for a person) and "other" (everything else, including pre-sale
questions and praise of received goods). The file is in delivery order: the timestamps of
distinct messages strictly increase; the 20 redelivered copies (the same JSON line again, same
message_id) arrive 1-8 lines after their original, so only there does the timestamp step back.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from collections import Counter
from pathlib import Path

SEED = 8848_0618
ROOM_ID = "room-8848"
HOST = "阿May优选"
START_TS = 1718712183.0  # 2024-06-18 20:03:03 +08:00
DURATION = 100.0  # seconds
OUT = Path(__file__).resolve().parent.parent / "data" / "liveroom" / "sample_stream.jsonl"

# Phases of the show (seconds from the start of the slice).
FUDAI_T = (15.0, 28.0)   # host announces a 福袋
FLASH_T = (50.0, 60.0)   # 3号链接 flash price
KOU1_T = (70.0, 76.0)    # "想要的扣1"
QUIET = [(35.0, 43.0), (84.0, 90.0)]  # host explains fabric / sizing, fewer comments

N_DUPLICATES = 20
N_COMPLAINT_REPEATS = 6   # same user posts the same complaint again (new message_id)
N_SPAMMERS = 10           # users repeating one chatter line several times
FLOOD_COUNT = 36          # one user floods the room
FLOOD_START = 19.2        # inside the 福袋 burst
FLOOD_SPAN = 4.3          # seconds

rng = random.Random(SEED)


def pick(seq):
    return rng.choice(seq)


def chance(p: float) -> bool:
    return rng.random() < p


# ---------------------------------------------------------------------------------------
# Nicknames and users
# ---------------------------------------------------------------------------------------
NICK_ADJ = ["快乐的", "睡不醒的", "努力的", "发呆的", "安静的", "会飞的", "不想上班的", "暴躁的",
            "温柔的", "迷路的", "胖胖的", "一只", "平平无奇", "今天也要", "超级", "熬夜的",
            "减肥中的", "爱笑的", "社恐", "元气"]
NICK_NOUN = ["小鱼", "猫", "兔子", "橘子", "奶茶", "星星", "月亮", "柠檬", "芒果", "熊", "狗子",
             "咸鱼", "布丁", "桃子", "西瓜", "糯米", "团子", "小刺猬", "企鹅", "汤圆", "豆包",
             "可乐", "蘑菇", "云朵", "考拉", "丸子", "小狐狸", "鹿", "饺子", "虾仁"]
NICK_FOOD = ["草莓", "火锅", "烧烤", "榴莲", "螺蛳粉", "冰淇淋", "甜甜圈", "小龙虾", "蛋挞", "薯条"]
NICK_ANIMAL = ["猫", "兔子", "熊", "狗", "喵", "小猪", "仓鼠", "松鼠"]
NICK_EMOJI = ["🐟", "🍓", "🌸", "🐱", "🐰", "🍊", "⭐", "🌙", "🍋", "🥭", "🐻", "☀️", "🌈", "🍑",
              "🦊", "🐼", "🍀", "💫", "🌻", "🧸"]
NICK_LATIN = ["Lily", "Amy", "Coco", "Kevin", "Momo", "Cindy", "Jack", "Tina", "Vivi", "Leo",
              "Nana", "Sunny", "Yoyo", "Eric", "Kiki", "Zoe", "Ivy", "Mia", "Tony", "Ella"]
NICK_SURNAME = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "林", "何"]
NICK_CITY = ["杭州", "成都", "广州", "武汉", "长沙", "西安", "苏州", "重庆", "青岛", "厦门", "沈阳", "昆明"]
NICK_TRAD = ["小寶貝", "阿雯愛購物", "貓咪不睡覺", "晴天娃娃", "台北小資女", "香港阿明", "夢想家",
             "愛吃鳳梨酥", "溫柔的風", "櫻桃小丸子迷"]


def make_nickname() -> str:
    k = rng.randrange(14)
    if k == 0:
        return pick(NICK_ADJ) + pick(NICK_NOUN)
    if k == 1:
        return f"爱吃{pick(NICK_FOOD)}的{pick(NICK_ANIMAL)}"
    if k == 2:
        return pick(NICK_NOUN) + pick(NICK_EMOJI)
    if k == 3:
        return f"{pick(NICK_LATIN)}_{rng.choice([1998, 2000, 2003, 2008, 2012, 2016, 2020, 2021, 2022])}"
    if k == 4:
        return f"{pick(NICK_LATIN)}{rng.randrange(1, 999)}"
    if k == 5:
        return f"用户{rng.randrange(1000000, 99999999)}"
    if k == 6:
        return pick(NICK_SURNAME) + pick(["姐", "哥", "阿姨", "大叔", "女士", "小妹", "老师"]) + pick(["", "", pick(NICK_EMOJI)])
    if k == 7:
        return pick(NICK_CITY) + pick(["宝妈", "打工人", "小仙女", "老王", "吃货", "的风"])
    if k == 8:
        return pick(NICK_TRAD)
    if k == 9:
        return f"{pick(NICK_NOUN)}不加{pick(['糖', '冰', '香菜', '辣'])}"
    if k == 10:
        return pick(NICK_EMOJI) + pick(NICK_LATIN).lower() + pick(NICK_EMOJI)
    if k == 11:
        return f"{pick(NICK_NOUN)}の{pick(NICK_NOUN)}"
    if k == 12:
        return pick(["momo", "Mr.", "Miss_", "a", "x"]) + pick(NICK_NOUN) + pick(["", "吖", "呀", "酱"])
    return pick(NICK_ADJ) + pick(NICK_FOOD) + pick(["", "", pick(NICK_EMOJI)])


class Users:
    def __init__(self, n: int):
        self.ids: list[str] = []
        self.nick: dict[str, str] = {}
        used_ids, used_nicks = set(), set()
        for _ in range(n):
            uid = f"u{rng.randrange(1000000, 99999999)}"
            while uid in used_ids:
                uid = f"u{rng.randrange(1000000, 99999999)}"
            used_ids.add(uid)
            nick = make_nickname()
            while nick in used_nicks:
                nick = make_nickname() + pick(["", "1", "2", "~", "_"])
            used_nicks.add(nick)
            self.ids.append(uid)
            self.nick[uid] = nick
        # Pareto-like activity: a few regulars talk a lot, most people post once or twice.
        self.weight = [min(12.0, rng.paretovariate(1.3)) for _ in range(n)]

    def chatter_user(self, avoid: set[str]) -> str:
        while True:
            uid = rng.choices(self.ids, weights=self.weight, k=1)[0]
            if uid not in avoid:
                return uid

    def fresh_user(self, avoid: set[str]) -> str:
        while True:
            uid = pick(self.ids)
            if uid not in avoid:
                return uid


# ---------------------------------------------------------------------------------------
# Chatter ("other")
# ---------------------------------------------------------------------------------------
CLOTHES = ["卫衣", "针织开衫", "T恤", "防晒衣", "牛仔裤", "阔腿裤", "连衣裙", "睡衣", "外套", "半身裙", "打底衫"]
HOME = ["保温杯", "四件套", "面膜", "运动鞋", "拖鞋", "收纳箱"]
COLORS = ["黑色", "白色", "杏色", "雾霾蓝", "奶白", "卡其", "粉色", "灰色", "藏青"]
SIZES = ["S码", "M码", "L码", "XL码", "2XL", "均码"]
LINKS = ["1号", "2号", "3号", "5号", "7号", "8号", "12号"]
PROVINCES = ["新疆", "西藏", "内蒙古", "青海", "海南", "甘肃"]

GREET = ["主播好", "主播晚上好", "家人们我来了", "来了来了", "晚上好呀", "新来的 已关注", "第一次来直播间",
         "老粉来报到", "从广东来的", "下班赶过来的", "又来啦", "主播今天好漂亮", "主播声音好好听",
         "刚进来 在讲什么", "打卡", "每天必来", "主播好久不见", "哈喽哈喽", "晚上好家人们", "我来晚了吗",
         "刚下班 还赶得上吗", "点进来就走不了了", "主播今天口红什么色号", "带娃来看的", "主播换发型了？",
         "终于开播了等半天", "在地铁上看的", "来了来了来了", "主播吃饭了没", "今天人好多啊"]
HYPE = ["666", "6666666", "66", "好看", "冲冲冲", "主播加油", "太划算了", "这价格绝了", "yyds", "绝绝子",
        "nb", "牛", "xswl", "哈哈哈哈哈", "主播辛苦了", "爱了爱了", "好好看啊", "这件绝了", "上身效果好好",
        "yyds!!", "zbhk", "awsl", "主播nb", "穿上好显瘦", "这个颜色好温柔", "氛围感拉满", "好仙啊",
        "助理也好看", "支持主播", "真的便宜", "这价格不买是傻子", "赞赞赞", "主播太会讲了", "dddd",
        "绝了绝了", "牛哇", "好划算啊家人们", "这波不亏"]
EMOJI_ONLY = ["👍", "👍👍👍", "❤️❤️❤️", "🌹🌹", "🔥🔥🔥", "😂😂", "🥰", "💯", "[比心][比心]", "[玫瑰]",
              "[赞][赞][赞]", "🎉🎉", "👏👏👏", "😍😍😍", "🌹🌹🌹🌹", "❤️", "💕💕", "🤣🤣🤣", "[666]",
              "👍🏻👍🏻", "🙋‍♀️", "🥳", "✨✨", "[爱心]", "🐱", "🙏🙏", "😘", "👀", "[捂脸]", "💃💃"]
KOU = ["扣1", "1", "111", "1111111", "扣2", "2222", "扣1扣1", "已扣1", "11111要福袋", "111111",
       "扣666", "1111", "11", "2", "扣1了", "已扣", "111111111", "扣1扣1扣1", "11111", "扣1 想要"]
LINK_ASK = ["求链接", "链接呢", "几号链接", "上链接啊", "{l}链接在哪", "链接没找到", "小黄车里哪个",
            "刚才那件是几号", "求上架", "主播链接挂了吗", "在哪拍啊", "这件怎么拍", "链接找不到了",
            "{l}是这件吗", "小黄车点不开", "新人怎么下单", "上车上车", "链接链接链接"]
PRESALE = ["有没有{s}", "有{s}吗", "145斤穿什么码", "身高165体重110穿哪个码", "多少钱", "这个多少钱啊",
           "原价多少", "还有库存吗", "{c}还有吗", "{c}有没有", "能用券吗", "可以叠加优惠吗", "包邮吗",
           "{pv}包邮吗", "什么时候发货", "今天拍什么时候发", "现在下单几天能到", "发什么快递", "有运费险吗",
           "会缩水吗", "面料是什么", "纯棉的吗", "这个起球吗", "会掉色吗", "实物有色差吗", "敏感肌能用吗",
           "孕妇能穿吗", "能机洗吗", "有大码吗", "腰围多少", "主播多高多重", "主播穿的什么码", "再讲讲面料",
           "能看看背面吗", "试一下{c}的", "拉近看看", "{c2}和{c}哪个显白", "偏大还是偏小", "微胖能穿吗",
           "{cl}有几个颜色", "{p}是什么材质", "可以开发票吗", "胯大能穿吗", "120斤选{s}还是{s}",
           "梨形身材穿哪个码", "有没有短款", "拍两件有优惠吗", "粉丝价多少", "买二送一还有吗", "支持七天无理由吗",
           "{p}还会补货吗", "今天下单明天能发吗", "发顺丰吗", "有小孩穿的吗", "保温杯多大容量",
           "四件套是1.8米床的吗", "面膜一盒几片", "运动鞋偏码吗", "老人能穿吗", "能到付吗",
           "收到不合适能换码吗", "冬天能穿吗", "透不透", "会不会闷"]
JOKE = ["主播今天是不是没吃饭", "钱包在哭", "又要吃土了", "我老公说我再买就离婚", "剁手剁手", "这个月白干了",
        "主播讲价比我妈还狠", "我就看看不买", "助理在后面笑什么", "狗狗也来看了", "主播背后那只猫好可爱",
        "家人们这三个字我已经会背了", "三二一上链接我都听出节奏了", "我妈说再买就把我退货了哈哈",
        "花呗：你礼貌吗", "主播别说了我已经拍了", "每次说只看看结果都下单了", "工资到账5分钟就没了",
        "我是来学穿搭的不是来花钱的", "主播的猫出镜了哈哈哈", "助理小哥好害羞", "这是今晚第三件了救命",
        "购物车比我的脸还干净", "主播说话好快 我脑子跟不上", "家人们谁懂啊 又心动了", "打工人的快乐就是这个",
        "钱包：我不想努力了", "主播你别转圈了 我晕", "看直播比看剧还上头", "我是被算法推进来的",
        "我婆婆也在看哈哈", "听口音主播是四川的？", "今晚不睡了", "主播喝口水吧"]
RECEIVED_GOOD = ["上次买的{cl}穿了好几次没起球", "上次买的很好没有质量问题", "快递很快点赞", "衣服收到了很合身",
                 "回购第三次了", "我妈说比商场的好", "昨天收到的{cl}超舒服", "给我姐也买了一件", "面膜用着不错 没过敏",
                 "保温杯保温效果可以", "之前买的四件套洗了没掉色", "上周买的{cl}已经穿上了 好看",
                 "上次的{cl}被同事问链接了", "收到了 跟直播间一样", "第二次来买了 质量可以",
                 "拖鞋穿着很软 家里人都喜欢", "买了两件都很满意", "好评！上次的{cl}很值", "包装很用心 还有小卡片",
                 "{cl}洗了三次也没变形", "上次给老公买的他也说好", "做工比我想的好"]
BORDERLINE = ["不是来退货的哈哈", "客服小姐姐态度超好", "上次换码客服很快就处理了", "退货率这么低的店第一次见",
              "物流第二天就到了 给力", "没有色差 和直播间一样", "我是来回购的不是来投诉的😂", "说没货的都是手慢了",
              "扣了两次1能中两次福袋吗哈哈", "之前担心色差 收到发现一模一样", "说假货的是没买过吧 我买了三次都是正品",
              "朋友说你们家质量差 我买了发现完全不是", "没收到福袋通知 是不是还没开奖", "退款？不存在的 穿上就不想脱了",
              "差评是不可能差评的", "上次快递小哥还帮我送上楼 点赞", "这价格不买我都要投诉自己了", "没有开线 走线很整齐",
              "以为会起球 结果穿了一冬天都没有", "客服回复超快 半分钟就回了", "坏了坏了 又心动了", "假货？主播都亲自试穿了",
              "不用退不用换 很合适", "快递压不坏的 包装超厚", "物流更新好快 昨天拍今天就到了", "怕色差的放心 实物更好看",
              "上次赠品也收到了 谢谢主播", "优惠券能用 刚试了"]
FUDAI = ["福袋福袋", "求福袋", "福袋什么时候开", "参与了", "我要中一次", "从来没中过福袋", "福袋里是什么",
         "倒计时还有几分钟", "加入粉丝团了", "点了关注能参与吗", "灯牌亮了", "福袋来了！", "冲福袋", "让我中一次吧",
         "福袋拜托拜托", "上次中了个杯子哈哈", "参与参与", "福袋怎么参与", "评论就能参与吗", "中中中",
         "保佑保佑🙏", "非酋本酋", "福袋几个名额", "福袋是现金吗", "已参与 坐等开奖"]
FLASH_TALK = ["抢到了！", "没抢到😭", "手慢了", "再上点库存吧", "秒没", "已拍", "拍了两件", "付款了",
              "已下单 等发货", "加库存加库存", "下单了主播", "抢到了开心", "拍到了{s}", "怎么这么快就没了",
              "还会返场吗", "{l}没了吗", "求补库存", "第一次抢到", "拍了拍了", "还有{c}吗 没抢到",
              "刷新一下又有了", "卡了半天", "网好慢", "秒杀价多少", "已拍{s} {c}", "给妈妈也拍了一件",
              "抢到了 谢谢主播", "拼手速了", "一秒就没了", "加购了"]
KOU_TALK = ["想要+1", "要要要", "我要我要", "想要想要", "+1", "想要{c}的"]
QUIET_TALK = ["面料摸着怎么样", "主播说慢点", "洗了会不会缩", "这件适合上班穿吗", "能搭什么裤子", "讲得好细",
              "原来是这样", "学到了", "所以是纯棉的对吧", "懂了懂了", "这个领子好看", "袖子长吗",
              "主播再转一圈", "后面有没有口袋", "好的 明白了", "有内衬吗", "厚不厚", "夏天穿热吗"]
TRAD_OTHER = ["主播好～從台灣來看的", "請問有M號嗎", "這件多少錢", "運費怎麼算", "寄香港可以嗎", "好漂亮喔",
              "讚讚讚", "哈哈哈笑死", "上次買的很好穿 回購了", "福袋福袋 拜託讓我中一次", "求連結", "已下單",
              "謝謝主播", "顏色好溫柔", "這個價格太划算了吧", "主播辛苦了～", "請問會縮水嗎", "有沒有大一點的尺碼",
              "物流到台灣要幾天", "上次收到的褲子超舒服", "想要黑色的", "主播聲音好好聽"]
SPAM_AD = ["想要同款的看我主页", "互关互关", "关注我 回关", "进粉丝群的扣进群", "有没有一起拼单的"]
MENTION = ["@{n} 你也来了", "@{n} 快来看这件", "@{n} 给你买一件要不要", "@{n} 这个颜色适合你",
           "@{n} 福袋中了吗", "@{n} 哈哈哈同款"]

QUESTION_ENDS = ("吗", "呢", "么", "没", "?", "？")
QUESTION_WORDS = ("什么", "多少", "几号", "几个", "几天", "几片", "几分钟", "哪", "怎么", "多高", "多大", "还是",
                  "能不能", "有没有", "是不是", "要不要")
PARTICLE_END = set("了啊呀哦吧的吗呢么哈嘛吖")


def is_question(core: str) -> bool:
    return core.endswith(QUESTION_ENDS) or (any(w in core for w in QUESTION_WORDS)
                                            and not core.endswith(("了", "！", "!")))


def decorate(core: str, ask: bool = False) -> str:
    """Add an optional address (主播, 家人们, @host, 请问 ...) and an optional ending."""
    q = is_question(core)
    prefixes = [""] * 7 + ["主播 ", "主播，", "家人们", "姐妹们", "@阿May优选 "]
    if q:
        prefixes += ["主播", "宝宝", "宝宝 "]
    if q and ask:
        prefixes += ["请问", "请问 ", "想问下", "想问一下，"]
    pre = pick(prefixes)
    if core.startswith(("@", "主播", "请问", "想问", "家人", "姐妹", "宝宝")) or not ("\u4e00" <= core[0] <= "\u9fff" or core[0].isascii()):
        pre = ""
    end = core[-1]
    cjk_end = "\u4e00" <= end <= "\u9fff"
    if q:
        sufs = ["", "", "", "？", "?", "～", "？？"]
        if cjk_end and end not in PARTICLE_END and not core.endswith(QUESTION_ENDS):
            sufs += ["呀", "啊", "呢"]
    else:
        sufs = [""] * 7 + ["～", "~", "!", "！", "哈哈", "😂", "👍", "❤️", "🥰", "[比心]", "。。", "!!", "😍", "🙏"]
        if cjk_end and end not in PARTICLE_END:
            sufs += ["呀", "啊", "哦", "吖"]
    suf = pick(sufs) if (cjk_end or end.isascii()) else pick(["", "", "", "😂", "🙏", "👍"])
    if suf and not cjk_end and suf in ("？", "?", "!", "！", "～", "~", "？？", "!!", "。。"):
        suf = ""
    return f"{pre}{core}{suf}"


# Homophone and keyboard typos seen in real comments.
TYPOS = [("链接", "连接"), ("福袋", "福带"), ("主播", "主bo"), ("什么", "神马"), ("怎么", "咋么"),
         ("发货", "发或"), ("客服", "客付"), ("质量", "质亮"), ("退款", "退宽"), ("收到", "收道"),
         ("已经", "以经"), ("再", "在"), ("这么", "这门"), ("没有", "没由"), ("颜色", "严色"),
         ("还没", "还莫"), ("快递", "快地"), ("物流", "物留"), ("衣服", "衣腹"), ("好看", "号看"),
         ("多少", "多小"), ("喜欢", "稀饭")]


def fill(template: str) -> str:
    c = pick(COLORS)
    c2 = pick([x for x in COLORS if x != c])
    s = pick(SIZES)
    return (template.replace("{l}", pick(LINKS)).replace("{s}", s, 1).replace("{s}", pick(SIZES))
            .replace("{c2}", c2).replace("{c}", c).replace("{p}", pick(CLOTHES + HOME))
            .replace("{cl}", pick(CLOTHES)).replace("{pv}", pick(PROVINCES)))


def typo(text: str, p: float) -> str:
    if not chance(p):
        return text
    options = [(a, b) for a, b in TYPOS if a in text]
    if not options:
        return text
    a, b = pick(options)
    return text.replace(a, b, 1)


def chatter_kind(phase: str) -> str:
    weights = {
        "normal": {"greet": 11, "hype": 14, "emoji": 9, "kou": 3, "link": 8, "presale": 17, "joke": 6,
                   "good": 5, "border": 4, "fudai": 2, "flash": 1, "trad": 3, "mention": 2, "ad": 1},
        "fudai": {"greet": 4, "hype": 7, "emoji": 6, "kou": 18, "link": 3, "presale": 5, "joke": 3,
                  "good": 2, "border": 2, "fudai": 40, "flash": 0, "trad": 2, "mention": 2, "ad": 1},
        "flash": {"greet": 2, "hype": 8, "emoji": 5, "kou": 4, "link": 16, "presale": 9, "joke": 3,
                  "good": 1, "border": 1, "fudai": 1, "flash": 42, "trad": 2, "mention": 1, "ad": 0},
        "kou1": {"greet": 3, "hype": 6, "emoji": 5, "kou": 45, "link": 5, "presale": 5, "joke": 2,
                 "good": 1, "border": 1, "fudai": 2, "flash": 4, "trad": 2, "mention": 1, "ad": 0,
                 "koutalk": 12},
        "quiet": {"greet": 8, "hype": 8, "emoji": 6, "kou": 1, "link": 3, "presale": 20, "joke": 6,
                  "good": 6, "border": 5, "fudai": 1, "flash": 0, "trad": 3, "mention": 2, "ad": 1,
                  "quiettalk": 20},
    }[phase]
    kinds = list(weights)
    return rng.choices(kinds, weights=[weights[k] for k in kinds], k=1)[0]


def make_other(phase: str, nick_pool: list[str]) -> str:
    kind = chatter_kind(phase)
    if kind == "greet":
        text = decorate(pick(GREET))
    elif kind == "hype":
        text = decorate(pick(HYPE))
    elif kind == "emoji":
        return pick(EMOJI_ONLY)
    elif kind == "kou":
        return pick(KOU)
    elif kind == "link":
        text = decorate(fill(pick(LINK_ASK)), ask=True)
    elif kind == "presale":
        text = decorate(fill(pick(PRESALE)), ask=True)
    elif kind == "joke":
        text = decorate(pick(JOKE))
    elif kind == "good":
        text = decorate(fill(pick(RECEIVED_GOOD)))
    elif kind == "border":
        text = decorate(pick(BORDERLINE))
    elif kind == "fudai":
        text = decorate(pick(FUDAI))
    elif kind == "flash":
        text = decorate(fill(pick(FLASH_TALK)))
    elif kind == "koutalk":
        text = fill(pick(KOU_TALK))
    elif kind == "quiettalk":
        text = decorate(pick(QUIET_TALK), ask=True)
    elif kind == "trad":
        return pick(TRAD_OTHER)
    elif kind == "mention":
        return pick(MENTION).replace("{n}", pick(nick_pool))
    else:  # ad
        return pick(SPAM_AD)
    return typo(text, 0.07)


# ---------------------------------------------------------------------------------------
# Complaints
# ---------------------------------------------------------------------------------------
BOUGHT = ["上周买的", "618预热那场拍的", "上次直播间买的", "{l}链接拍的", "上个月买的", "3号那天下单的",
          "在你们直播间买的", "之前抢的", "给我妈买的", "上周秒杀的"]
WHEN = BOUGHT + ["前天收到的", "昨天到的", "刚收到的"]  # for goods already delivered

COMPLAINT_CORES = {
    "quality": [
        "{w}{cl}开线了", "{cl}洗了一次就起球 这质量？", "{w}{cl}色差太大了 跟直播间完全两个颜色",
        "{w}保温杯到手就是坏的", "你们卖的运动鞋是假货吧 跟专柜的根本不一样", "{w}{cl}M码 穿上跟S码一样小 尺码完全不对",
        "{w}{cl}一股刺鼻的味道 放阳台三天了还有", "用了你们家面膜脸上起红疹 过敏了", "{w}{zp}拉链拉两次就坏了",
        "{w}保温杯根本不保温 倒的开水两小时就凉了", "运动鞋鞋底开胶了 才穿了一个礼拜", "{w}{cl}线头一大堆 还少一颗扣子",
        "{w}{cl}上有个洞 拆开就有", "四件套掉色 洗一次水都是蓝的", "说的纯棉 {cl}标签写的聚酯纤维 与描述不符",
        "{w}{cl}像别人穿过的 上面还有头发", "{cl}洗完缩水缩了一大截 根本没法穿", "{w}收纳箱盖子是裂的",
        "{cl}起球起得跟毛毯一样 才穿三次", "拖鞋穿了两天就断了", "{w}{cl}颜色和直播间差太多了 黄得发暗",
        "面膜打开是干的 一点精华都没有", "{w}{cl}袖子一长一短", "{cl}掉毛掉得满身都是 质量太差了",
        "收到的{cl}有一块污渍 洗不掉", "{w}{cl}布料薄得透光 跟主播说的完全不一样",
    ],
    "logistics": [
        "我的货五天了还没发", "{b}{cl}一个礼拜了还没发货 说好48小时发的呢", "物流三天没更新了 一直卡在{city}转运中心",
        "快递显示签收了 我根本没收到", "快递丢了 问快递说找不到件", "箱子压扁了 里面保温杯都凹了",
        "物流怎么跑到{city}去了 是不是发错地址了", "买了两件只到了一件", "物流太慢了 十天了还在路上",
        "订单显示已发货 物流信息一直查不到", "{b}{cl}到现在还没发货 到底发不发", "包裹外箱破了 {cl}弄得脏兮兮的",
        "{b}东西被放驿站了没人通知我 现在找不到了", "拍了快两周了 物流还是已揽收", "说好顺丰 结果发的最慢的快递 等了八天",
        "快递员没送上门 直接点了签收", "四件套的包裹到了 外包装都湿了", "我的单子拆成两个包裹 另一个一直不见",
    ],
    "service": [
        "客服一直不回复 发了十几条了", "客服态度太差了 问两句就不耐烦", "找客服全是机器人自动回复 根本解决不了问题",
        "客服说给我补发 到现在也没动静", "我被客服拉黑了？？", "问了三个客服 每个都让我找别人 踢皮球",
        "客服答应给我退差价 结果又不认了", "私信客服两天了 已读不回", "客服说明天给答复 这都第四天了",
        "客服回我一句亲亲稍等 然后就没了", "客服一直敷衍 复制粘贴同一句话", "打客服电话永远占线",
    ],
    "return": [
        "退货寄回去一周了 退款还没到", "申请退款三天了没人处理", "换货申请一直审核中 到底换不换", "七天无理由为什么给我拒了",
        "说好有运费险 退货运费还要我自己出", "{cl}小了想换大一码 申请了没人理", "退款显示成功了 钱一直没到账",
        "{w}{cl}想退货 退货地址一直不给我", "仓库说没收到我的退货 物流明明显示签收了", "换货寄回去半个月了 新的还没寄出来",
        "{cl}是坏的 申请退款被驳回了", "退了两件只退了一件的钱", "申请换货 客服让我先付运费？",
    ],
    "transaction": [
        "付款扣了两次钱 订单只有一个", "直播间说99 我下单是129 价格和直播间说的不一样", "说好的赠品没收到",
        "优惠券没用上 付款的时候没抵扣", "下单后订单被莫名取消了 钱也没退", "满减没减 多付了30",
        "要开发票 申请一周了还没给", "买一送一 只收到一个", "刚刚秒杀价付的钱 结果订单按原价扣的",
        "不是说拍两件减20吗 结算没减", "主播说送的收纳袋 包裹里根本没有", "粉丝券领了用不了 白领了",
        "{b}{cl}支付宝扣了钱 订单显示待付款", "说好的买{cl}送袜子 袜子呢", "我怎么多了一个订单 我没下过",
    ],
}
# Hand-written Traditional-character complaints (category, text).
TRAD_COMPLAINTS = [
    ("quality", "我買的外套開線了 才穿兩次😡"), ("logistics", "等了十天還沒出貨 到底有沒有在處理"),
    ("service", "客服都不回訊息 是怎樣"), ("return", "退貨寄回去兩個禮拜 退款還沒收到"),
    ("transaction", "直播說送贈品 結果什麼都沒有"), ("quality", "顏色跟直播間差很多 根本是兩件衣服"),
    ("logistics", "物流一直卡著不動 已經五天了"), ("transaction", "被扣了兩次款 請處理一下"),
    ("quality", "保溫杯收到就漏水"), ("return", "申請換貨好幾天了都沒人理"),
]

C_PREFIX = ["", "", "", "@阿May优选 ", "@阿May优选 ", "主播！", "主播 ", "家人们", "宝宝们 ", "姐妹们避雷 ", "我说一下 ",
            "主播能不能管管 ", "有人管吗 ", "主播看一下 ", "宝宝 "]
C_SUFFIX = ["", "", "😡", "😤😤", "！！！", "？？？", " 气死了", " 给个说法", " 怎么回事啊", " 有人管吗", "🙄",
            "[发怒]", "[流泪]", " 太失望了", "👎", " 能不能处理一下", "😭", " 什么垃圾", " 再也不买了",
            " 谁来管管", " 都没人理", "!!", "。", " 求处理", " 急"]
ANGRY_TAIL = [" 再不处理我就打12315了", " 要去12315投诉你们", " 我要曝光你们", " 要不要我去黑猫投诉"]
CITIES = ["郑州", "武汉", "廊坊", "嘉兴", "金华", "东莞", "沈阳"]
ADDRESSES = ["杭州市西湖区文三路88号", "成都市武侯区科华北路65号", "广州市天河区体育西路123号", "南京市鼓楼区中山北路305号",
             "武汉市洪山区珞喻路1037号", "苏州市工业园区星湖街218号", "长沙市岳麓区麓山南路2号", "西安市雁塔区小寨东路56号"]


def order_number() -> str:
    return pick(["69", "50", "48", "37"]) + "".join(str(rng.randrange(10)) for _ in range(17))


def phone_number() -> str:
    return "1" + pick("3456789") + "".join(str(rng.randrange(10)) for _ in range(9))


def with_pii(text: str, kind: str) -> str:
    if kind == "order":
        o = order_number()
        return pick([f"{text} 订单号{o}", f"{text} 订单{o}", f"订单号：{o} {text}", f"{text} 单号{o} 快查一下",
                     f"{text}{'' if text[-1] in '！!？?。）)' or not text[-1].isalnum() else '，'}订单编号{o}"])
    if kind == "phone":
        p = phone_number()
        return pick([f"{text} 电话{p} 联系我", f"{text} 我手机{p}", f"{text} 打我电话{p}", f"{p} 这是我电话 {text}"])
    a = pick(ADDRESSES)
    return pick([f"{text} 我地址是{a}", f"寄到{a}的那单 {text}", f"{text} 收货地址{a}", f"{text}（{a}）"])


def make_complaint(cat: str | None = None, pii: str | None = None, trad: bool = False,
                   typo_p: float = 0.15) -> tuple[str, str, str | None]:
    """Returns (category, text, pii kind or None)."""
    if trad:
        cat, text = pick(TRAD_COMPLAINTS)
        if chance(0.4):
            text = pick(["@阿May优选 ", "主播 ", "家人們 "]) + text
        return cat, text, None
    cat = cat or pick(list(COMPLAINT_CORES))
    core = pick(COMPLAINT_CORES[cat])
    core = (core.replace("{w}", pick(WHEN)).replace("{b}", pick(BOUGHT)).replace("{l}", pick(LINKS)).replace("{cl}", pick(CLOTHES))
            .replace("{zp}", pick(["外套", "防晒衣", "卫衣", "针织开衫"])).replace("{city}", pick(CITIES)))
    core = typo(core, typo_p)
    pre = pick(C_PREFIX)
    suf = pick(C_SUFFIX)
    while suf.strip() and (suf.strip() in pre or suf.strip() in core):
        suf = pick(C_SUFFIX)
    text = f"{pre}{core}{suf}"
    if chance(0.06):
        text += pick(ANGRY_TAIL)
    if pii:
        text = with_pii(text, pii)
    return cat, text.strip(), pii


REQUEST_HUMAN = ["人工客服在吗", "怎么转人工", "转人工", "有没有真人客服啊", "要人工 要人工", "我要找人工客服",
                 "能不能让真人客服私信我一下", "客服小姐姐在吗 想找真人聊", "怎么联系人工客服呀", "求一个人工客服",
                 "有真人嗎 轉人工", "@阿May优选 人工客服在不在", "主播 怎么找人工客服 急", "有人工吗",
                 "找个真人客服 有事问", "人工客服怎么联系啊家人们"]

# ---------------------------------------------------------------------------------------
# Timeline
# ---------------------------------------------------------------------------------------


def phase_of(t: float) -> str:
    if FUDAI_T[0] <= t < FUDAI_T[1]:
        return "fudai"
    if FLASH_T[0] <= t < FLASH_T[1]:
        return "flash"
    if KOU1_T[0] <= t < KOU1_T[1]:
        return "kou1"
    if any(a <= t < b for a, b in QUIET):
        return "quiet"
    return "normal"


def rate(t: float) -> float:
    r = 22.0 + 5.0 * math.sin(t / 6.5) + 3.0 * math.sin(t / 2.3 + 1.0)
    if any(a <= t < b for a, b in QUIET):
        r = 10.0 + 2.0 * math.sin(t)
    for start, amp, tau in ((FUDAI_T[0], 55.0, 5.0), (FLASH_T[0], 70.0, 3.5), (KOU1_T[0], 45.0, 2.5)):
        if t >= start - 1.0:
            ramp = min(1.0, (t - start + 1.0))
            r += amp * ramp * math.exp(-max(0.0, t - start) / tau)
    return r


def arrivals() -> list[float]:
    lam_max = 110.0
    t, out = 0.0, []
    while True:
        t += rng.expovariate(lam_max)
        if t >= DURATION:
            return out
        if rng.random() < rate(t) / lam_max:
            out.append(t)


# ---------------------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------------------

def build() -> tuple[list[str], dict]:
    users = Users(1500)
    nick_pool = list(users.nick.values())
    times = arrivals()
    n = len(times)
    slots: list[dict | None] = [None] * n  # per arrival: dict(user, text, label, cat)
    reserved: set[str] = set()

    flood_user = users.ids[0]
    users.nick[flood_user] = "冲冲冲🚀刷屏王"
    reserved.add(flood_user)

    total_expected = n + FLOOD_COUNT + N_DUPLICATES
    n_complaint = round(0.03 * total_expected) - N_COMPLAINT_REPEATS - 1 - 3  # repeats, flood, dup copies
    n_request = round(0.005 * total_expected) - 1  # one repeat

    free = list(range(n))
    rng.shuffle(free)

    def take_after(i: int, lo: float, hi: float) -> int | None:
        cand = [j for j in range(i + 1, n) if slots[j] is None and lo <= times[j] - times[i] <= hi]
        return pick(cand) if cand else None

    # Complaints: spread over the stream, avoiding the very first second.
    # Complaints come at an even pace whatever the chatter does: aim at uniform times.
    comp_idx = []
    for target in sorted(rng.uniform(1.0, DURATION - 0.5) for _ in range(n_complaint)):
        k = min((i for i in range(n) if slots[i] is None and i not in comp_idx), key=lambda i: abs(times[i] - target))
        comp_idx.append(k)
    cats = list(COMPLAINT_CORES)
    # Fix the mix of PII / Traditional / category so every kind is present.
    plan = []
    for k in range(n_complaint):
        cat = cats[k % len(cats)]
        pii = None
        if k % 7 == 1:
            pii = "order"
        elif k % 11 == 3:
            pii = "phone"
        elif k % 13 == 5:
            pii = "address"
        trad = (k % 12 == 9)
        plan.append((cat, pii, trad))
    rng.shuffle(plan)
    complainers: list[tuple[int, str]] = []
    for i, (cat, pii, trad) in zip(comp_idx, plan):
        uid = users.fresh_user(reserved)
        reserved.add(uid)
        c, text, _ = make_complaint(cat, pii, trad)
        slots[i] = {"user": uid, "text": text, "label": "complaint", "cat": c}
        complainers.append((i, uid))

    # Some complainers post the same complaint again 3-25 s later (a new message_id).
    repeat_src = rng.sample([i for i, _ in complainers if times[i] < DURATION - 30], N_COMPLAINT_REPEATS)
    for i in repeat_src:
        j = take_after(i, 3.0, 25.0)
        slots[j] = dict(slots[i])

    # Requests for a person.
    req_pool = [i for i in free if slots[i] is None and times[i] > 1.0]
    req_idx = req_pool[:n_request]
    req_texts = rng.sample(REQUEST_HUMAN, n_request)
    for i, text in zip(req_idx, req_texts):
        uid = users.fresh_user(reserved)
        reserved.add(uid)
        slots[i] = {"user": uid, "text": text, "label": "request_human", "cat": None}
    first_req = min(req_idx, key=lambda i: times[i])
    j = take_after(first_req, 5.0, 20.0)
    slots[j] = dict(slots[first_req])

    # Spammers: one user repeats the same chatter line 3-7 times within ~5-20 s.
    spam_lines = ["主播看看我", "求福袋求福袋", "关注了主播 回关一下", "想要同款的看我主页", "主播好主播好",
                  "福袋福袋福袋", "1111111", "上链接上链接", "抽我抽我", "[比心][比心][比心]", "主播回我一下嘛",
                  "宝宝们点点赞"]
    for line in rng.sample(spam_lines, N_SPAMMERS):
        uid = users.fresh_user(reserved)
        reserved.add(uid)
        start = pick([i for i in range(n) if slots[i] is None and times[i] < DURATION - 25])
        k = rng.randint(3, 7)
        slots[start] = {"user": uid, "text": line, "label": "other", "cat": None}
        prev = start
        for _ in range(k - 1):
            j = take_after(prev, 0.4, 6.0)
            if j is None:
                break
            slots[j] = {"user": uid, "text": line, "label": "other", "cat": None}
            prev = j

    # Everything else is chatter.
    for i in range(n):
        if slots[i] is None:
            uid = users.chatter_user(reserved)
            slots[i] = {"user": uid, "text": make_other(phase_of(times[i]), nick_pool), "label": "other", "cat": None}

    # The flooding user: FLOOD_COUNT comments in FLOOD_SPAN seconds, one complaint among them.
    flood_lines = ["福袋福袋", "扣1", "主播看我", "666", "111", "求福袋", "抽我抽我", "冲冲冲", "福袋！！", "1",
                   "主播看看我啊", "🔥🔥🔥", "中中中", "扣1扣1", "6666", "福袋快开", "我要我要", "来了来了",
                   "[比心]", "保佑我中", "主播好", "哈哈哈哈", "福袋福袋福袋", "11111", "冲", "主播！！！"]
    flood_times = sorted(FLOOD_START + rng.random() * FLOOD_SPAN for _ in range(FLOOD_COUNT))
    flood_complaint_at = 21
    flood_msgs = []
    for k, ft in enumerate(flood_times):
        if k == flood_complaint_at:
            msg = {"user": flood_user, "text": "我上周拍的卫衣到现在还没发货！！福袋先不说了 这个谁管",
                   "label": "complaint", "cat": "logistics"}
        else:
            msg = {"user": flood_user, "text": pick(flood_lines) + pick(["", "", "!", "！！", "～"]),
                   "label": "other", "cat": None}
        flood_msgs.append((ft, msg))

    merged = sorted([(times[i], slots[i]) for i in range(n)] + flood_msgs, key=lambda x: x[0])

    # Timestamps (ms precision, strictly increasing) and platform message ids (increasing, with gaps).
    records = []
    last_ts = -1.0
    mid = 731
    for t, msg in merged:
        ts = round(START_TS + t, 3)
        if ts <= last_ts:
            ts = round(last_ts + 0.001, 3)
        last_ts = ts
        mid += 1 if chance(0.8) else rng.randint(2, 4)
        rec = {"message_id": f"dy-{mid:06d}", "room_id": ROOM_ID, "user_id": msg["user"],
               "nickname": users.nick[msg["user"]], "text": msg["text"], "timestamp": ts,
               "label": msg["label"]}
        records.append((rec, msg["cat"]))

    lines = [json.dumps(r, ensure_ascii=False) for r, _ in records]

    # Redeliveries: the same JSON line again, 1-8 lines later. 3 complaints, the rest random.
    comp_positions = [k for k, (r, _) in enumerate(records) if r["label"] == "complaint"]
    dup_src = set(rng.sample(comp_positions, 3))
    while len(dup_src) < N_DUPLICATES:
        dup_src.add(rng.randrange(len(records) - 10))
    inserts: dict[int, list[int]] = {}
    for k in dup_src:
        inserts.setdefault(k + rng.randint(1, 8), []).append(k)
    out: list[str] = []
    for k, line in enumerate(lines):
        out.append(line)
        for src in inserts.get(k, []):
            out.append(lines[src])

    stats = {"records": records, "dup_src": sorted(dup_src), "flood_user": flood_user,
             "flood_nick": users.nick[flood_user]}
    return out, stats


def summarize(lines: list[str], stats: dict) -> str:
    objs = [json.loads(x) for x in lines]
    labels = Counter(o["label"] for o in objs)
    ids = Counter(o["message_id"] for o in objs)
    dups = sum(c - 1 for c in ids.values())
    ts = [o["timestamp"] for o in objs]
    dur = max(ts) - min(ts)
    records = stats["records"]
    cats = Counter(c for r, c in records if r["label"] == "complaint")
    comp_texts = [r["text"] for r, _ in records if r["label"] == "complaint"]
    order_re, phone_re = re.compile(r"(?<!\d)\d{19}(?!\d)"), re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
    addr = sum(any(a in t for a in ADDRESSES) for t in comp_texts)
    n_order = sum(bool(order_re.search(t)) for t in comp_texts)
    n_phone = sum(bool(phone_re.search(t)) for t in comp_texts)
    flood = [o for o in objs if o["user_id"] == stats["flood_user"]]
    fts = [o["timestamp"] for o in flood]
    per_sec = Counter(int(t - min(ts)) for t in ts)
    by_user_text = Counter((r["user_id"], r["text"]) for r, _ in records if r["label"] == "complaint")
    same_user_repeats = sum(1 for v in by_user_text.values() if v > 1)
    unique_msgs = len(ids)
    return "\n".join([
        f"lines: {len(objs)} (distinct message_ids: {unique_msgs}, redelivered copies: {dups})",
        f"labels (lines): {dict(labels)}",
        f"labels (distinct messages): {dict(Counter(r['label'] for r, _ in records))}",
        f"complaint categories (distinct messages): {dict(cats)}",
        f"complaints with order number: {n_order}, phone: {n_phone}, address: {addr}",
        f"complaints re-posted by the same user (new message_id): {same_user_repeats}",
        f"distinct users: {len({o['user_id'] for o in objs})}",
        f"duration: {dur:.1f} s, average {len(objs) / dur:.1f} lines/s, busiest second {max(per_sec.values())}, "
        f"quietest second {min(per_sec.get(s, 0) for s in range(int(dur)))}",
        f"flooding user {stats['flood_user']} ({stats['flood_nick']}): {len(flood)} lines in "
        f"{max(fts) - min(fts):.1f} s, labels {dict(Counter(o['label'] for o in flood))}",
    ])


def check(lines: list[str], stats: dict) -> None:
    objs = [json.loads(x) for x in lines]
    assert len(objs) >= 2000
    keys = ["message_id", "room_id", "user_id", "nickname", "text", "timestamp", "label"]
    assert all(list(o) == keys for o in objs)
    records = [r for r, _ in stats["records"]]
    assert all(a["timestamp"] < b["timestamp"] for a, b in zip(records, records[1:]))
    assert len({r["message_id"] for r in records}) == len(records)
    seen: dict[str, str] = {}
    for line, o in zip(lines, objs):
        if o["message_id"] in seen:
            assert seen[o["message_id"]] == line
        seen[o["message_id"]] = line
    assert len(lines) - len(seen) == N_DUPLICATES
    share = Counter(o["label"] for o in objs)
    assert 0.025 <= share["complaint"] / len(objs) <= 0.035, share
    assert 0.004 <= share["request_human"] / len(objs) <= 0.007, share
    # No PII-looking numbers outside complaints (chatter never carries 11 or 19 digits).
    for r in records:
        if r["label"] != "complaint":
            assert not re.search(r"\d{10,}", r["text"]), r["text"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stdout", action="store_true", help="print the stream instead of writing the file")
    args = ap.parse_args()
    lines, stats = build()
    check(lines, stats)
    if args.stdout:
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    print(summarize(lines, stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())

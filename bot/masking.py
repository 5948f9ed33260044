"""Masking of private details in whatever text leaves the conversation — a public reply,
a log line, a trainer's export: order, phone, tracking and case numbers, e-mail
addresses, street addresses and people's names all become ***."""
from __future__ import annotations

import re

MASK = "***"
DIGIT = "[0-9０-９]"
CJK = "\u4e00-\u9fff"
# Six or more digits, possibly in groups split by spaces or dashes (138-1234-5678,
# 4883 6900 6026 7735 468): order, phone, tracking and case numbers alike.
_NUMBER = re.compile(rf"{DIGIT}(?:[\s\-－]?{DIGIT}){{5,}}")
# Letters then digits: tracking numbers such as SF1234567890, YT9876543210123.
_CODE = re.compile(rf"[A-Za-zＡ-Ｚａ-ｚ]{{1,5}}{DIGIT}{{6,}}(?:[\-－]{DIGIT}+)?")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_ADDRESS_UNIT = ("省|自治区|市|区|县|镇|乡|村|街道|大道|路|街|巷|弄|胡同|小区|花园|大厦|公寓|"
                 "号楼|号院|号|栋|幢|单元|室|楼")
# Two or more address units in a row (杭州市西湖区文三路88号) make an address. Its first
# place name holds none of the words that lead up to one (寄到, 住在, 地址是), so those
# stay readable.
_ADDRESS = re.compile(
    rf"(?:(?![寄送发到在住是为址我的了])[{CJK}]){{1,8}}?(?:{_ADDRESS_UNIT})[0-9０-９A-Za-z\-－#]*"
    rf"(?:[{CJK}]{{0,8}}?(?:{_ADDRESS_UNIT})[0-9０-９A-Za-z\-－#]*)+")

# --------------------------------------------------------------------------- names
# A name is recognised by its surname: without one, "我是来投诉的" and "收货人写错了" would
# lose their meaning to the mask. Surnames that are also everyday words in complaints
# (来, 和, 都, 位, 要 …) are left out on purpose; Traditional forms are included because
# masking runs before the text is normalised.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤温康施牛樊葛邢乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳"
    "甘祝包宁尚符舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍华喻祁蒲房滕屈饶牟艾"
    "尤穆农卓吉缪简项芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬卞姬仇栾隋刁沙荣巫"
    "寇桑郎甄丛仲虞敖巩佘池邝鞠荆冀郁胥班储栗燕楚鄢谌奚皮粟冼蔺楼闻厉伊仝郜阚帅屠朴廉禹祖漆"
    "卿狄晋扈晁芮阙浦邸雍辜裘亓邰赫杭况宿逯茹诸慕嵇湛宾戎茅揭尉冶檀昝衡尧"
    "陳張劉楊黃趙吳孫鄭謝許韓馮鄧蕭葉蘇呂盧鍾譚陸範賈韋鄒錢嚴龔賀顧聶莊魯嚴陶羅鄔鄺")
_COMPOUND_SURNAMES = "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|令狐|司徒|夏侯|歐陽|司馬|諸葛"
# Characters that seldom sit in a given name but fill everyday complaints: a candidate
# holding one of them is a sentence, not a name.
_NOT_GIVEN = set(
    "的了吗呢吧啊呀哦嘛啦么是不没有在这那哪什怎谁个们你我他她它也都就还又很太真再才被把给让从"
    "对跟和与或要想会能可以说问叫看找买卖退换货款钱单号码电话手机地址快递发收寄到送拿取用坏破烂"
    "错投诉来去过吃做写填改查等人家里上下中多少几件次天月年客服店铺员州省市县区西"
    "們這說問買賣貨錢單號碼電話機遞發壞錯訴來過寫個還與會讓從對縣區")
_NOT_GIVEN_CLASS = "".join(sorted(_NOT_GIVEN))
# Excluded in the pattern itself, so a longer candidate backs off to the name inside it
# (收件人张三的电话 → 张三).
_GIVEN = f"(?:(?![{_NOT_GIVEN_CLASS}])[{CJK}])"
_NAME = rf"(?:(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}]){_GIVEN}{{1,2}})"
# Cues that announce a name outright; the name may follow a colon or 是/为/叫, and may be
# a familiar form such as 小王 or 阿花.
_STRONG_CUE = re.compile(
    rf"(?P<cue>(?:收件人|收货人|收貨人|联系人|聯繫人|聯絡人|姓名|名字是|名字叫)"
    rf"[\s:：]*(?:是|为|為|叫|写的是|填的是)?[\s:：]*)(?:{_NAME}|(?:小|阿|老){_GIVEN}{{1,2}})")
# 我叫/我是 also start ordinary sentences (我是会员, 我叫了快递, 我是江西人), so the name must
# end there: at punctuation, the end, a particle, or what the shopper says next about
# themself.
_WEAK_CUE = re.compile(
    rf"(?P<cue>(?:我叫|我是|本人是)\s*){_NAME}"
    rf"(?=$|[^{CJK}]|[啊呀哈吧呢哦嘛啦]|我|电话|手机|订单|地址|住在)")
_TITLE = re.compile(rf"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])(?=先生|女士|小姐|太太)")


def mask_names(text: str) -> str:
    """The text with people's names replaced: 收件人张三 → 收件人***, 王先生 → *先生."""
    text = _STRONG_CUE.sub(rf"\g<cue>{MASK}", text)
    text = _WEAK_CUE.sub(rf"\g<cue>{MASK}", text)
    return _TITLE.sub("*", text)


def mask(text: str) -> str:
    """The text with every private detail replaced by ***."""
    # Names first: the address pattern could otherwise take a name that holds an
    # address unit (路, 江) together with the cue in front of it.
    text = mask_names(text)
    for pattern in (_EMAIL, _CODE, _ADDRESS, _NUMBER):
        text = pattern.sub(MASK, text)
    return text

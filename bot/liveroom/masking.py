"""What may be said in public (直播间公屏): the short acknowledgement addressed to the
commenter, and masking of anything private — order, phone, tracking and case numbers,
e-mail addresses and street addresses — in whatever text goes public or into a log."""
from __future__ import annotations

import re

MASK = "***"
MAX_NICKNAME_CHARS = 20
DIGIT = "[0-9０-９]"
# Six or more digits, possibly in groups split by spaces or dashes (138-1234-5678,
# 4883 6900 6026 7735 468): order, phone, tracking and case numbers alike.
_NUMBER = re.compile(rf"{DIGIT}(?:[\s\-－]?{DIGIT}){{5,}}")
# Letters then digits: tracking numbers such as SF1234567890, YT9876543210123.
_CODE = re.compile(rf"[A-Za-zＡ-Ｚａ-ｚ]{{1,5}}{DIGIT}{{6,}}(?:[\-－]{DIGIT}+)?")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_ADDRESS_UNIT = ("省|自治区|市|区|县|镇|乡|村|街道|大道|路|街|巷|弄|胡同|小区|花园|大厦|公寓|"
                 "号楼|号院|号|栋|幢|单元|室|楼")
# Two or more address units in a row (杭州市西湖区文三路88号) make an address.
_ADDRESS = re.compile(
    rf"[\u4e00-\u9fff]{{1,8}}?(?:{_ADDRESS_UNIT})[0-9０-９A-Za-z\-－#]*"
    rf"(?:[\u4e00-\u9fff]{{0,8}}?(?:{_ADDRESS_UNIT})[0-9０-９A-Za-z\-－#]*)+")


def mask(text: str) -> str:
    """The text with every private detail replaced by ***."""
    for pattern in (_EMAIL, _CODE, _ADDRESS, _NUMBER):
        text = pattern.sub(MASK, text)
    return text


def public_name(nickname: str) -> str:
    """A nickname fit to show in public: masked (a nickname can hold a phone number) and
    short; a blank one becomes 亲."""
    name = mask(" ".join(nickname.split()))[:MAX_NICKNAME_CHARS]
    return name or "亲"


def public_reply(nickname: str, template: str) -> str:
    """The public acknowledgement: the shop's fixed template addressed to the nickname.
    Nothing of the comment is echoed."""
    return mask(template.format(nickname=public_name(nickname)))

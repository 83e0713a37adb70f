"""Discriminatory requirements in job text: sex, ethnicity, religion, marriage/children, origin.

Online recruitment notices must not contain them (《就业促进法》第三条、第二十七条至第三十一条;
《人力资源市场暂行条例》第二十四条). `find_discrimination` returns findings that the show
checker turns into warnings: the producer decides, but is told plainly.
Age limits are not flagged here: they are common, and not in the listed grounds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CATEGORIES = {
    "sex": "性别 sex",
    "ethnicity": "民族 ethnicity",
    "religion": "宗教信仰 religion",
    "marital": "婚育 marital/childbearing status",
    "origin": "户籍/地域 place of origin",
}

_ONLY = r"(?:仅限|只限|限于|限|只招|只要|仅招|只收|仅要|要求|需)"
_NOT_WORDS = r"不要|不招|不收|不考虑|谢绝|拒绝|勿扰|免谈"
_NOT = f"(?:{_NOT_WORDS})"
_ETHNIC = r"(?:汉族|汉人|少数民族|回族|藏族|维吾尔族|维族|蒙古族|壮族|苗族|彝族|满族|朝鲜族|哈萨克族|土家族|瑶族|畲族|客家人?)"
_LOCAL = r"(?:本地|本市|本县|本省|本区|本镇|[\u4e00-\u9fff]{1,4}籍)"

# Phrases that mention a ground only to say it does NOT matter, or that are benefits.
_HARMLESS = re.compile(
    r"(?:男女不限|性别不限|不限男女|男女均可|男女皆可|民族不限|婚育不限|婚否不限|户籍不限|地域不限|籍贯不限|"
    r"不限户籍|不限地域|宗教信仰不限|生育保险|生育津贴|五险一金|no gender requirement|any gender)",
    re.I)

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("sex", re.compile(_ONLY + r"\s*(?:男|女)(?:性|士|生|工)?")),
    ("sex", re.compile(r"(?:男|女)(?:性|士|生|工)?\s*优先")),
    ("sex", re.compile(r"(?:男|女)(?:性|士|生|工)?\s*" + _NOT)),
    ("sex", re.compile(_NOT + r"\s*(?:男|女)(?:性|士|生|工)?")),
    ("sex", re.compile(r"性别\s*[:：]?\s*(?:男|女)(?![女男])")),
    ("sex", re.compile(r"\b(?:male|female|men|women)s?\s+only\b", re.I)),
    ("sex", re.compile(r"\bonly\s+(?:male|female|men|women)s?\b", re.I)),
    ("sex", re.compile(r"\b(?:male|female|men|women)s?(?:\s+(?:candidates|applicants))?\s+preferred\b", re.I)),
    ("sex", re.compile(r"\bno\s+(?:women|females|men|males)\b", re.I)),
    ("ethnicity", re.compile(_ONLY + r"\s*" + _ETHNIC)),
    ("ethnicity", re.compile(_ETHNIC + r"\s*(?:优先|" + _NOT_WORDS + ")")),
    ("ethnicity", re.compile(_NOT + r"\s*" + _ETHNIC)),
    ("ethnicity", re.compile(r"民族\s*(?:[:：]|要求|限制)")),
    ("ethnicity", re.compile(r"\b(?:han|uyghur|tibetan|hui)\s+(?:only|preferred)\b", re.I)),
    ("ethnicity", re.compile(r"\b(?:ethnicity|race)\s*(?::|requirement|must)", re.I)),
    ("religion", re.compile(r"宗教|信仰|信教|穆斯林|基督徒|佛教徒|教徒")),
    ("religion", re.compile(r"\breligio(?:n|us)\b", re.I)),
    ("religion", re.compile(r"\b(?:christians?|muslims?|buddhists?|atheists?)\s+(?:only|preferred)\b", re.I)),
    ("marital", re.compile(r"已婚|未婚|已育|未育|婚育|婚否|单身|离异|丧偶|怀孕|孕期|哺乳期|生育")),
    ("marital", re.compile(r"\b(?:married|unmarried|childless|pregnan\w*|marital status|no (?:kids|children))\b",
                           re.I)),
    ("marital", re.compile(r"\bsingle\s+(?:only|preferred|applicants)\b", re.I)),
    ("origin", re.compile(r"户籍|户口|籍贯|地域")),
    ("origin", re.compile(_ONLY + r"\s*" + _LOCAL + r"\s*(?:人|户口|户籍)?")),
    ("origin", re.compile(_LOCAL + r"\s*人?\s*(?:优先|" + _NOT_WORDS + ")")),
    ("origin", re.compile(r"(?:本地|外地|外省)人")),
    ("origin", re.compile(r"\b(?:locals?\s+only|hukou|household registration|native\s+of)\b", re.I)),
]


@dataclass(frozen=True)
class Finding:
    category: str        # sex / ethnicity / religion / marital / origin
    phrase: str          # the words found, as written

    def message(self) -> str:
        zh, en = CATEGORIES[self.category].split(" ", 1)
        return (f"「{self.phrase}」含{zh}限制：招聘信息不得含有性别、民族、宗教信仰、婚育、户籍地域等歧视性内容"
                f"（就业促进法；人力资源市场暂行条例第二十四条），请删除或改为与岗位直接相关的客观要求"
                f"（如“能搬运 25 公斤货物”）. A {en} requirement is forbidden in recruitment notices.")


def find_discrimination(text: str) -> list[Finding]:
    """Discriminatory phrases in `text`, one finding per category (the first phrase found)."""
    if not text:
        return []
    cleaned = _HARMLESS.sub(lambda m: " " * len(m.group(0)), text)
    found: dict[str, Finding] = {}
    for category, pattern in _PATTERNS:
        if category in found:
            continue
        m = pattern.search(cleaned)
        if m:
            found[category] = Finding(category, text[m.start():m.end()].strip())
    return list(found.values())

"""Applicants' personal data: validation, masking, the privacy notice.

Masked forms are what the API, stats, logs and panel show: 138****5678, 张*, J***.
Only an `--unmasked` export shows full contacts.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import JobFair

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")       # [0-9], not \d: \d matches every script's digits
_ASCII_DIGITS = re.compile(r"^[0-9]*$")
# Names: CJK ideographs (incl. ext. A), Latin letters, the middle dot of minority and
# foreign names (·•), space, apostrophe, hyphen, period. No digits, no markup.
_NAME = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fffA-Za-z\u00c0-\u024f·•．.' -]{1,20}$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"     # GB 32100-2015: no I, O, S, V, Z
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalize_mobile(raw: str) -> str | None:
    """The one canonical form, or None when anything but ASCII digits is left.

    NFKC first, so a fullwidth ８ or a math bold 𝟖 becomes 8 (what the person meant);
    then spaces, dashes, brackets and a +86 / 0086 prefix go: '+86 138-0013-8000' ->
    '13800138000'. Digits of other scripts (Arabic-Indic ٨) are NOT mapped by NFKC and
    are refused: `str.isdigit` would accept them, and the number would be undialable.
    """
    text = unicodedata.normalize("NFKC", raw or "")
    digits = re.sub(r"[\s\-()\u2010-\u2015\u2212]", "", text)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    if not _ASCII_DIGITS.fullmatch(digits):
        return None
    return digits


def valid_mobile(phone: str | None) -> bool:
    """A mainland China mobile number: 11 digits, 1[3-9]xxxxxxxxx."""
    return bool(_MOBILE.fullmatch(phone or ""))


def normalize_name(raw: str) -> str:
    return re.sub(r"\s+", " ", (raw or "").strip())


def valid_name(name: str) -> bool:
    """1..20 characters of a person's name; no digits, markup or control characters."""
    return bool(_NAME.match(name or "")) and bool(name.strip(" .'-·•"))


def mask_phone(phone: str | None) -> str:
    """13812345678 -> 138****5678; anything else keeps at most its last 2 characters."""
    if not phone:
        return ""
    if len(phone) == 11 and _ASCII_DIGITS.fullmatch(phone):
        return f"{phone[:3]}****{phone[7:]}"
    return "*" * max(0, len(phone) - 2) + phone[-2:]


def mask_name(name: str | None) -> str:
    """张三 -> 张*, 张三丰 -> 张**, 欧阳娜娜 -> 欧***, John Smith -> J***."""
    if not name:
        return ""
    name = name.strip()
    if _CJK.match(name[0]):
        return name[0] + "*" * max(1, len(name) - 1)
    return name[0] + "***"


def hash_ip(ip: str, salt: str) -> str:
    """A salted hash of the client address: enough to count and rate-limit, not to identify."""
    return hashlib.sha256(f"{salt}|{ip}".encode()).hexdigest()[:16]


# ---------------------------------------------------------------- unified social credit code

def credit_code_shape_error(code: str) -> str | None:
    """Why `code` is not shaped like a 统一社会信用代码, or None."""
    if len(code) != 18:
        return f"has {len(code)} characters; a unified social credit code has 18"
    bad = sorted({c for c in code if c not in CREDIT_CODE_CHARS})
    if bad:
        return (f"contains {''.join(bad)}; only digits and capital letters except I, O, S, V, Z are used "
                f"(check for O/0 and I/1 mix-ups)")
    return None


def credit_code_check_char(first17: str) -> str:
    """The 18th (check) character for the first 17, per GB 32100-2015."""
    total = sum(CREDIT_CODE_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def credit_code_checksum_ok(code: str) -> bool:
    return credit_code_shape_error(code) is None and credit_code_check_char(code[:17]) == code[17]


# ---------------------------------------------------------------- the notice

DEFAULT_PURPOSE = "将您的求职意向转交给您勾选同意的用人单位，以便其与您联系面试；并统计本场招聘会的投递情况（统计结果不含个人信息）。"


def notice_lines(fair: "JobFair") -> list[tuple[str, str]]:
    """The privacy notice as (heading, text) pairs, Chinese first: who, what, why, how long, withdrawal."""
    ev = fair.event
    contact = f"，或致电/联系 {ev.contact}" if ev.contact else ""
    return [
        ("收集者 Who collects", f"{ev.organizer or '本场招聘会主办方'}（{ev.name}）"),
        ("收集内容 What", "仅姓名、手机号和您选择的岗位；不收集身份证号、照片或简历。"),
        ("用途 Why", ev.purpose or DEFAULT_PURPOSE),
        ("提供给谁 Shared with", "仅您在下方逐一勾选同意的用人单位；未勾选的单位看不到您的信息。"),
        ("保存期限 How long", f"自投递之日起 {ev.retention_days} 天，期满删除或匿名化。"),
        ("撤回 Withdraw", f"提交后页面会显示撤回码；随时可在 /apply/withdraw 用手机号和撤回码撤回同意{contact}。"
                         "撤回后您的信息将被遮盖，不再提供给用人单位。"),
    ]


def notice_version(fair: "JobFair") -> str:
    """A short hash of the notice text: each consent records which text the applicant saw."""
    text = "\n".join(f"{h}:{t}" for h, t in notice_lines(fair))
    return "n-" + hashlib.sha256(text.encode()).hexdigest()[:10]

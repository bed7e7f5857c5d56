"""Repeat-complaint rules (§4(5)6 "避免市民重复反映"): pure functions, and the SQL that finds
candidates for them.

Two tickets are on the same matter when one of three rules holds:

* **SAME_PHONE** — the same complainant phone after normalisation (separators dropped, a
  ``+86``/``0086`` prefix dropped, a local 7–8 digit landline given Suqian's area code 0527),
  both received within ``phone_window`` (default **180 days**) of each other. Anonymous tickets
  are never linked by phone: a link would tell who the anonymous complainant is. Numbers that
  are not a person's phone (``12345``, ``110``, fragments) never match.
* **SAME_ADDRESS_CATEGORY** — the same category code and the same normalised address (full
  width folded, spaces and punctuation dropped, a leading 江苏省/宿迁市 dropped), received
  within ``address_window`` (default **90 days**). Placeholders (不详, 无 …) and addresses of
  fewer than ``min_address_chars`` (6) characters never match.
* **SIMILAR_TEXT** — near-identical text: the Jaccard similarity of the character bigrams of
  the normalised title + content (the first ``max_text_chars`` = 2,000 characters of the
  content) is at least ``text_threshold`` (default **0.8**), received within ``text_window``
  (default **90 days**). Texts of fewer than ``min_text_shingles`` (10) bigrams never match.
  Character bigrams, not PostgreSQL's ``pg_trgm``: trigram extraction ignores CJK characters
  under the C locale, and the embedded PostgreSQL (pgserver) does not ship the extension.

Finding candidates must use indexes (a year is 500k tickets). Each rule is turned into 64-bit
keys stored in ``ticket_match_key`` when a ticket is created; one B-tree index on
(kind, key, received_at) returns at most ``per_key_limit`` most recent candidates per key
within the window. For the text rule the keys are MinHash locality-sensitive-hashing bands
(``bands`` × ``rows`` = 12 × 4 = 48 hashes): a pair at similarity 0.8 shares a band with
probability 1 − (1 − 0.8⁴)¹² ≈ 0.998, a pair at 0.3 with ≈ 0.09 — every candidate is then
confirmed by the exact similarity, so the bands decide only what is looked at, never what is
linked. Every candidate of every rule is confirmed against the ticket itself (``matches``), so
a hash collision never links two tickets.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, DateTime, String

from domain.analysis.models import LinkReason, MatchKind
from domain.tickets.models import Ticket

__all__ = [
    "DEFAULT_POLICY",
    "Facts",
    "Match",
    "MatchPolicy",
    "address_key",
    "candidate_facts",
    "candidate_ids",
    "evidence",
    "facts_of",
    "jaccard",
    "match_keys",
    "matches",
    "minhash",
    "normalise_address",
    "normalise_phone",
    "normalise_text",
    "phone_key",
    "shingles",
    "text_bands",
]

LOCAL_AREA_CODE = "0527"  # 宿迁


@dataclass(frozen=True)
class MatchPolicy:
    """The rules' parameters; ``DEFAULT_POLICY`` is what ticket intake uses."""

    phone_window: timedelta = timedelta(days=180)
    address_window: timedelta = timedelta(days=90)
    text_window: timedelta = timedelta(days=90)
    text_threshold: float = 0.8
    min_address_chars: int = 6
    min_text_shingles: int = 10
    max_text_chars: int = 2_000
    bands: int = 12
    rows: int = 4
    # At most this many of the most recent candidates per key, and links per new ticket.
    per_key_limit: int = 10
    max_links: int = 20

    def window(self, kind: MatchKind) -> timedelta:
        if kind == MatchKind.PHONE:
            return self.phone_window
        if kind == MatchKind.ADDRESS_CATEGORY:
            return self.address_window
        return self.text_window


DEFAULT_POLICY = MatchPolicy()


# ---- normalisation -----------------------------------------------------------------------------
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）.+]")


def normalise_phone(raw: str | None) -> str | None:
    """A phone as digits that identify a person's line, or None when it cannot."""
    if not raw:
        return None
    digits = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if not digits.isascii() or not digits.isdigit():
        return None
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) == 11 and digits[0] == "1":  # mobile
        return digits
    if digits[0] == "0" and 10 <= len(digits) <= 12:  # landline with its area code
        return digits
    if len(digits) in (7, 8) and digits[0] not in "01":  # local landline
        return LOCAL_AREA_CODE + digits
    return None  # service numbers (12345, 110), fragments


_NON_WORD = re.compile(r"[\W_]+")
_ADDRESS_PREFIXES = ("江苏省", "宿迁市")
_ADDRESS_SUFFIXES = ("附近", "周边", "一带")
# Chinese numerals before a house-number word (十二号, 三单元, 二〇一室) are written in digits,
# so 幸福路十二号 and 幸福路12号 are one address; numerals in names (三台山路) are left alone.
_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = re.compile(
    "([零〇一二两三四五六七八九十百千]+)(?=号楼|号|栋|幢|单元|室|楼|层|组|排|巷|弄|期)"
)


def cn_number(run: str) -> str:
    """A run of Chinese numerals in digits: 十二 → 12, 一百零五 → 105, 二〇一 → 201."""
    if not any(c in _CN_UNITS for c in run):
        return "".join(str(_CN_DIGITS[c]) for c in run)
    total = current = 0
    for c in run:
        if c in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[c]
            current = 0
        else:
            current = _CN_DIGITS[c]
    return str(total + current)


_ADDRESS_PLACEHOLDERS = frozenset(
    {"无", "不详", "未知", "暂无", "匿名", "见内容", "详见内容", "略"}
)


def normalise_text(raw: str | None) -> str:
    """Lower case, full width folded (NFKC), whitespace and punctuation dropped."""
    if not raw:
        return ""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", raw).lower())


def normalise_address(
    raw: str | None, *, min_chars: int = DEFAULT_POLICY.min_address_chars
) -> str | None:
    """An address in a form two spellings of one place share, or None when too vague."""
    s = normalise_text(raw)
    stripped = True
    while stripped:
        stripped = False
        for p in _ADDRESS_PREFIXES:
            if s.startswith(p) and len(s) > len(p):
                s = s[len(p) :]
                stripped = True
    for suffix in _ADDRESS_SUFFIXES:
        if s.endswith(suffix):
            s = s[: -len(suffix)]
    s = _CN_NUMBER.sub(lambda m: cn_number(m.group(1)), s)
    if s in _ADDRESS_PLACEHOLDERS or len(s) < min_chars:
        return None
    return s


def shingles(
    title: str, content: str, *, max_chars: int = DEFAULT_POLICY.max_text_chars
) -> frozenset[str]:
    """The character bigrams of the normalised title and (the start of the) content."""
    s = normalise_text(title + " " + content[:max_chars])
    return frozenset(s[i : i + 2] for i in range(len(s) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# ---- keys --------------------------------------------------------------------------------------
def _h64(*parts: str) -> int:
    """A stable signed 64-bit hash (fits a BIGINT), the same in every process."""
    digest = hashlib.blake2b(
        "\x1f".join(parts).encode(), digest_size=8, person=b"yiwang-related"
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


_P = (1 << 61) - 1  # a Mersenne prime for the universal hashes of MinHash


def _coefficients(n: int) -> tuple[tuple[int, int], ...]:
    out = []
    for i in range(n):
        d = hashlib.blake2b(f"minhash-{i}".encode(), digest_size=16).digest()
        out.append((int.from_bytes(d[:8], "big") % (_P - 1) + 1, int.from_bytes(d[8:], "big") % _P))
    return tuple(out)


_COEFFS = _coefficients(DEFAULT_POLICY.bands * DEFAULT_POLICY.rows)


def minhash(grams: Iterable[str], n: int = len(_COEFFS)) -> tuple[int, ...]:
    """The MinHash signature (n values) of a set of shingles; empty for an empty set."""
    xs = [_h64("g", g) & 0x7FFF_FFFF_FFFF_FFFF for g in grams]
    if not xs:
        return ()
    coeffs = _COEFFS if n == len(_COEFFS) else _coefficients(n)
    return tuple(min((a * x + b) % _P for x in xs) for a, b in coeffs)


def text_bands(grams: frozenset[str], policy: MatchPolicy = DEFAULT_POLICY) -> list[int]:
    """The locality-sensitive-hashing band keys of a text (none for a too-short text)."""
    if len(grams) < policy.min_text_shingles:
        return []
    sig = minhash(grams, policy.bands * policy.rows)
    r = policy.rows
    return [_h64("band", str(i), *map(str, sig[i * r : (i + 1) * r])) for i in range(policy.bands)]


def phone_key(normalised: str) -> int:
    return _h64("phone", normalised)


def address_key(category_code: str, normalised: str) -> int:
    return _h64("address", category_code, normalised)


# ---- the rules ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    """What the rules look at in one ticket."""

    ticket_id: int
    received_at: datetime
    category_code: str
    title: str
    content: str
    address: str | None
    phone: str | None
    anonymous: bool
    centre_code: str | None = None  # not used by the rules: where the ticket belongs


@dataclass(frozen=True)
class Match:
    reason: LinkReason
    score: float


def match_keys(f: Facts, policy: MatchPolicy = DEFAULT_POLICY) -> list[tuple[MatchKind, int]]:
    """The keys under which a ticket is found by the rules (and looks for others)."""
    keys: list[tuple[MatchKind, int]] = []
    phone = None if f.anonymous else normalise_phone(f.phone)
    if phone is not None:
        keys.append((MatchKind.PHONE, phone_key(phone)))
    address = normalise_address(f.address, min_chars=policy.min_address_chars)
    if address is not None:
        keys.append((MatchKind.ADDRESS_CATEGORY, address_key(f.category_code, address)))
    grams = shingles(f.title, f.content, max_chars=policy.max_text_chars)
    keys += [(MatchKind.TEXT_BAND, b) for b in dict.fromkeys(text_bands(grams, policy))]
    return keys


def matches(a: Facts, b: Facts, policy: MatchPolicy = DEFAULT_POLICY) -> list[Match]:
    """Which rules relate two tickets (in the order of ``LinkReason``); [] when none does."""
    if a.ticket_id == b.ticket_id:
        return []
    apart = abs(a.received_at - b.received_at)
    out: list[Match] = []
    if not a.anonymous and not b.anonymous and apart <= policy.phone_window:
        pa, pb = normalise_phone(a.phone), normalise_phone(b.phone)
        if pa is not None and pa == pb:
            out.append(Match(LinkReason.SAME_PHONE, 1.0))
    if a.category_code == b.category_code and apart <= policy.address_window:
        aa = normalise_address(a.address, min_chars=policy.min_address_chars)
        if aa is not None and aa == normalise_address(
            b.address, min_chars=policy.min_address_chars
        ):
            out.append(Match(LinkReason.SAME_ADDRESS_CATEGORY, 1.0))
    if apart <= policy.text_window:
        ga = shingles(a.title, a.content, max_chars=policy.max_text_chars)
        gb = shingles(b.title, b.content, max_chars=policy.max_text_chars)
        if len(ga) >= policy.min_text_shingles and len(gb) >= policy.min_text_shingles:
            sim = jaccard(ga, gb)
            if sim >= policy.text_threshold:
                out.append(Match(LinkReason.SIMILAR_TEXT, round(sim, 3)))
    return out


def evidence(m: Match, policy: MatchPolicy = DEFAULT_POLICY) -> dict[str, object]:
    """What a link records of its rule: parameters and score, never a phone or a name."""
    if m.reason == LinkReason.SAME_PHONE:
        return {"rule": m.reason.value, "windowDays": policy.phone_window.days}
    if m.reason == LinkReason.SAME_ADDRESS_CATEGORY:
        return {"rule": m.reason.value, "windowDays": policy.address_window.days}
    if m.reason == LinkReason.SIMILAR_TEXT:
        return {
            "rule": m.reason.value,
            "windowDays": policy.text_window.days,
            "similarity": m.score,
            "threshold": policy.text_threshold,
        }
    return {"rule": m.reason.value}


# ---- candidates (SQL) ---------------------------------------------------------------------------
_CANDIDATES = text(
    """
    SELECT c.ticket_id, k.kind
    FROM unnest(:kinds, :keys, :since, :until) AS k(kind, key, since, until)
    CROSS JOIN LATERAL (
        SELECT m.ticket_id
        FROM ticket_match_key m
        WHERE m.kind = k.kind AND m.key = k.key
          AND m.received_at BETWEEN k.since AND k.until
          AND m.ticket_id <> :me
        ORDER BY m.received_at DESC
        LIMIT :n
    ) AS c
    """
).bindparams(
    bindparam("kinds", type_=ARRAY(String(32))),
    bindparam("keys", type_=ARRAY(BigInteger)),
    bindparam("since", type_=ARRAY(DateTime(timezone=True))),
    bindparam("until", type_=ARRAY(DateTime(timezone=True))),
)


async def candidate_ids(
    session: AsyncSession,
    f: Facts,
    keys: Sequence[tuple[MatchKind, int]],
    policy: MatchPolicy = DEFAULT_POLICY,
) -> list[int]:
    """Tickets sharing a key with ``f`` within each rule's window: one indexed query, at most
    ``per_key_limit`` (most recent first) per key."""
    if not keys:
        return []
    windows = [policy.window(kind) for kind, _ in keys]
    rows = await session.execute(
        _CANDIDATES,
        {
            "kinds": [kind.value for kind, _ in keys],
            "keys": [key for _, key in keys],
            "since": [f.received_at - w for w in windows],
            "until": [f.received_at + w for w in windows],
            "me": f.ticket_id,
            "n": policy.per_key_limit,
        },
    )
    return list(dict.fromkeys(int(r.ticket_id) for r in rows))


async def candidate_facts(
    session: AsyncSession, ids: Sequence[int], policy: MatchPolicy = DEFAULT_POLICY
) -> list[Facts]:
    """The facts of these tickets, most recently received first."""
    if not ids:
        return []
    rows = await session.execute(
        select(
            Ticket.id,
            Ticket.received_at,
            Ticket.category_code,
            Ticket.title,
            func.left(Ticket.content, policy.max_text_chars).label("content"),
            Ticket.address,
            Ticket.complainant_phone,
            Ticket.anonymous,
            Ticket.centre_code,
        )
        .where(Ticket.id.in_(set(ids)))
        .order_by(Ticket.received_at.desc(), Ticket.id.desc())
    )
    return [
        Facts(
            ticket_id=r.id,
            received_at=r.received_at,
            category_code=r.category_code,
            title=r.title,
            content=r.content,
            address=r.address,
            phone=r.complainant_phone,
            anonymous=r.anonymous,
            centre_code=r.centre_code,
        )
        for r in rows
    ]


def facts_of(t: Ticket) -> Facts:
    return Facts(
        ticket_id=t.id,
        received_at=t.received_at,
        category_code=t.category_code,
        title=t.title,
        content=t.content,
        address=t.address,
        phone=t.complainant_phone,
        anonymous=t.anonymous,
        centre_code=t.centre_code,
    )

"""Reply rules: hollow-phrase lint (§4(5)), required elements (§4(2)), outcome classes (§4(4)).

Pure functions: no database, no transport.

Hollow phrases (§4(5) 杜绝无效回复)
------------------------------------
The regulation forbids replies built on these phrases; a reviewer treats such a reply as not
completed and sends it back (退回重办):

* item 3: "已联系市民解释", "已督促部门整改", "详情请拨打某某电话咨询", "正在办理，请等待处理结果";
* item 5: "市民电话未接听无法沟通" as an excuse;
* item 6: "非本单位职能" as a closing reply (the unit must return the ticket in time instead);
* item 7: "暂时无法解决" as the only answer.

:func:`lint_reply` finds them and their close variants. The text is normalised first (NFKC,
which turns full-width letters, digits and punctuation half-width; whitespace, punctuation and
control characters dropped; letters lower-cased), every pattern has **bounded** gaps, and each
finding reports its position in the *original* text. The lint flags occurrences; whether a
flagged reply is refused outright or shown to the reviewer is the caller's decision.

Elements (§4(2) 明确办理要素) — :func:`missing_elements`
-------------------------------------------------------
* Named complainant: handler name, the time of contact, what was communicated, whether the
  citizen is satisfied; if not satisfied, the reasons and at least one supporting document
  (policy document, meeting minutes, legal document).
* Anonymous complaint: handler name, handler contact (phone) and how it was handled.
* A final reply (§4(4) 此为最终答复, for unreasonable demands, with the main leader's
  approval): the text must carry the wording "此为最终答复" and at least one supporting document.

Blank strings count as missing. Element names are stable camelCase strings (the GraphQL field
names of the reply input), returned in the order of :data:`ELEMENTS`, each at most once.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "ELEMENTS",
    "FINAL_REPLY_WORDING",
    "RULE_CODES",
    "LintFinding",
    "Outcome",
    "ReplyContent",
    "Satisfaction",
    "is_hollow",
    "lint_reply",
    "missing_elements",
    "normalise",
    "requires_main_leader_approval",
]

FINAL_REPLY_WORDING = "此为最终答复"


class Outcome(enum.StrEnum):
    """§4(4) 分类解决诉求."""

    RESOLVED = "RESOLVED"  # 合理诉求: 依法依规快速解决
    EXPLAINED = "EXPLAINED"  # 不符合政策的诉求: 解释到位
    TERMINATED = "TERMINATED"  # 已判决 / 信访终结 / 纪检已有定论: 依法终结
    REFERRED_TO_LEGAL_CHANNEL = "REFERRED_TO_LEGAL_CHANNEL"  # 引导通过信访、仲裁、复议、诉讼解决
    FINAL_REPLY = "FINAL_REPLY"  # 无理诉求: 主要领导审核同意后注明"此为最终答复"


class Satisfaction(enum.StrEnum):
    """The citizen's verdict, in replies and in callbacks (§3(8) 复核回访)."""

    SATISFIED = "SATISFIED"
    BASICALLY_SATISFIED = "BASICALLY_SATISFIED"
    UNSATISFIED = "UNSATISFIED"
    UNREACHABLE = "UNREACHABLE"


def requires_main_leader_approval(outcome: Outcome) -> bool:
    """§4(4): a final reply needs the unit's main leader (主要领导), not only the deputy."""
    return outcome == Outcome.FINAL_REPLY


# --- normalisation ---------------------------------------------------------------------------

_DROP_CATEGORIES = ("P", "Z", "C")  # punctuation, separators (spaces), control/format
_DROP_CHARS = frozenset("~^`|+=<>")  # symbols that only decorate a reply


def _normalise_with_map(text: str) -> tuple[str, list[int]]:
    """The normalised text, and for each of its characters the index in ``text`` it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, raw in enumerate(text):
        for ch in unicodedata.normalize("NFKC", raw).lower():
            if ch.isspace() or ch in _DROP_CHARS:
                continue
            if unicodedata.category(ch)[0] in _DROP_CATEGORIES:
                continue
            chars.append(ch)
            origin.append(index)
    return "".join(chars), origin


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, whitespace and punctuation removed."""
    return _normalise_with_map(text)[0]


# --- hollow phrases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LintFinding:
    """One hollow phrase in a reply: ``text[start:end] == phrase``."""

    rule: str
    phrase: str
    start: int
    end: int
    clause: str


@dataclass(frozen=True)
class _Rule:
    code: str
    clause: str
    patterns: tuple[re.Pattern[str], ...]


# Patterns run on the normalised text (no spaces, no punctuation, lower case). Every gap is
# bounded; lazy gaps keep each finding short.
_PARTY = (
    "(?:市民|来电人|来电者|来电市民|诉求人|投诉人|反映人|当事人|群众|服务对象|居民|该市民|其|您)"
)
_NOT_APPLY = "(?<![申邀提报呈])"  # 请 as "please", not 申请/邀请/提请/报请/呈请

_RULES: tuple[_Rule, ...] = (
    _Rule(
        "CONTACTED_AND_EXPLAINED",
        "§4(5)3",
        (
            # 已联系市民解释 / 已与市民联系并解释 / 已电话联系来电人进行解释 / 已致电市民做好解释
            re.compile(r"已(?:经)?.{0,5}?(?:联系|致电|沟通).{0,7}?解释"),
            # 已向市民解释 / 已向来电人做了解释说明
            re.compile(r"已(?:经)?(?:电话)?(?:向|对|与|给)" + _PARTY + r".{0,4}?解释"),
        ),
    ),
    _Rule(
        "URGED_RECTIFICATION",
        "§4(5)3",
        (
            # 已督促部门整改 / 已督促相关部门整改 / 已督促责任单位进行整改 / 已责成其整改
            re.compile(r"已(?:经)?.{0,2}?(?:督促|责成|督导|敦促).{0,8}?整改"),
        ),
    ),
    _Rule(
        "REFER_TO_PHONE",
        "§4(5)3",
        (
            # 详情请拨打某某电话咨询 / 请致电0527-xxxxxxxx咨询 / 可拨打12345热线咨询
            re.compile(
                _NOT_APPLY + r"(?:请|可|可以).{0,4}?(?:拨打|致电|电询).{0,24}?(?:咨询|询问|了解)"
            ),
            # 详情请咨询…电话 / 具体情况可致电… / 如需了解请联系…
            re.compile(
                r"(?:详情|详细情况|具体情况|具体事宜|具体事项|如需了解|如需咨询)"
                r".{0,3}?(?:请|可).{0,4}?(?:拨打|致电|电询|咨询|联系)"
            ),
        ),
    ),
    _Rule(
        "PENDING_PLEASE_WAIT",
        "§4(5)3",
        (
            # 正在办理请等待处理结果 / 正在处理中请耐心等待 / 目前正在协调中请市民耐心等候
            re.compile(r"正在.{0,10}?请.{0,6}?(?:等待|等候)"),
            # 正在办理中耐心等待 (no 请) / 正在处理待有结果后答复
            re.compile(r"正在(?:办理|处理|协调|研究|核实)(?:中)?(?:耐心)?(?:等待|等候)"),
        ),
    ),
    _Rule(
        "CITIZEN_UNREACHABLE",
        "§4(5)5",
        (
            # 市民电话未接听无法沟通 / 来电人电话无人接听无法沟通 / 市民电话未接通无法联系
            re.compile(
                r"(?:电话|手机|致电|联系|拨打).{0,6}?"
                r"(?:未接听|无人接听|未接通|无法接通|未能接通|打不通|拒接|不接|关机|停机|空号)"
                r".{0,6}?(?:无法|未能|不能|没法)(?:与.{0,5}?)?(?:沟通|联系|取得联系|核实)"
            ),
        ),
    ),
    _Rule(
        "NOT_OUR_FUNCTION",
        "§4(5)6",
        (
            # 非本单位职能 / 非我单位职责 / 不属于本单位职能范围 / 非本部门职责 / 不在我局职责范围内
            re.compile(
                r"(?:非|不属于?|不在|并非)(?:本|我|我们)"
                r"(?:单位|部门|局|委|办|中心|镇|乡|街道|所|院|公司|处|科|队|站)?.{0,2}?"
                r"(?:职能(?!部门|科室)|职责|管辖|管理范围|业务范围|工作范围|受理范围)"
            ),
        ),
    ),
    _Rule(
        "TEMPORARILY_UNSOLVABLE",
        "§4(5)7",
        (
            # 暂时无法解决 / 目前暂时无法解决 / 暂无法解决 / 暂不能解决 / 暂时难以处理
            re.compile(r"暂(?:时|且)?(?:还)?(?:无法|不能|难以|没法|未能)(?:解决|处理|办理|落实)"),
        ),
    ),
)

RULE_CODES: tuple[str, ...] = tuple(rule.code for rule in _RULES)


def lint_reply(text: str) -> list[LintFinding]:
    """The hollow phrases of §4(5) in ``text``, ordered by position (then rule order).

    Positions are indices into ``text`` itself (not the normalised form): ``phrase`` is
    ``text[start:end]`` and may contain the spaces or punctuation the matching ignored.
    """
    normal, origin = _normalise_with_map(text)
    findings: list[LintFinding] = []
    for rule in _RULES:
        taken: list[tuple[int, int]] = []
        for pattern in rule.patterns:
            for match in pattern.finditer(normal):
                lo, hi = match.span()
                if hi == lo or any(lo < t_hi and t_lo < hi for t_lo, t_hi in taken):
                    continue  # the same words already found by another pattern of this rule
                taken.append((lo, hi))
                start, end = origin[lo], origin[hi - 1] + 1
                findings.append(LintFinding(rule.code, text[start:end], start, end, rule.clause))
    order = {code: i for i, code in enumerate(RULE_CODES)}
    findings.sort(key=lambda f: (f.start, order[f.rule]))
    return findings


def is_hollow(text: str) -> bool:
    """Whether ``text`` contains any hollow phrase of §4(5)."""
    return bool(lint_reply(text))


# --- elements ----------------------------------------------------------------------------------

ELEMENTS: tuple[str, ...] = (
    "handlerName",
    "contactedAt",
    "communication",
    "citizenSatisfied",
    "unsatisfiedReasons",
    "documents",
    "handlerPhone",
    "handling",
    "finalReplyWording",
)


@dataclass(frozen=True)
class ReplyContent:
    """What a unit answers (§4(2)); ``text`` is the reply as the citizen reads it."""

    handler_name: str
    handler_phone: str | None
    contacted_at: datetime | None
    communication: str
    citizen_satisfied: bool | None
    unsatisfied_reasons: str | None
    documents: tuple[str, ...]
    handling: str
    outcome: Outcome
    text: str


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def missing_elements(reply: ReplyContent, *, anonymous: bool) -> list[str]:
    """The required elements ``reply`` lacks, as camelCase names in :data:`ELEMENTS` order."""
    missing: set[str] = set()
    has_documents = any(not _blank(doc) for doc in reply.documents)
    if _blank(reply.handler_name):
        missing.add("handlerName")
    if anonymous:
        if _blank(reply.handler_phone):
            missing.add("handlerPhone")
        if _blank(reply.handling):
            missing.add("handling")
    else:
        if reply.contacted_at is None:
            missing.add("contactedAt")
        if _blank(reply.communication):
            missing.add("communication")
        if reply.citizen_satisfied is None:
            missing.add("citizenSatisfied")
        elif reply.citizen_satisfied is False:
            if _blank(reply.unsatisfied_reasons):
                missing.add("unsatisfiedReasons")
            if not has_documents:
                missing.add("documents")
    if reply.outcome == Outcome.FINAL_REPLY:
        if normalise(FINAL_REPLY_WORDING) not in normalise(reply.text):
            missing.add("finalReplyWording")
        if not has_documents:
            missing.add("documents")
    return [name for name in ELEMENTS if name in missing]

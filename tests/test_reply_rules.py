"""Reply rules (domain/tickets/reply_rules.py): hollow phrases §4(5), elements §4(2), §4(4)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from domain.calendar import TZ
from domain.tickets.reply_rules import (
    ELEMENTS,
    FINAL_REPLY_WORDING,
    RULE_CODES,
    LintFinding,
    Outcome,
    ReplyContent,
    Satisfaction,
    is_hollow,
    lint_reply,
    missing_elements,
    normalise,
    requires_main_leader_approval,
)

# --- hollow phrases ----------------------------------------------------------------------------

HOLLOW_CASES: list[tuple[str, str, str]] = [
    # (text, rule, clause) — first of each group: the regulation's own wording
    ("已联系市民解释", "CONTACTED_AND_EXPLAINED", "§4(5)3"),
    ("已与市民联系并解释", "CONTACTED_AND_EXPLAINED", "§4(5)3"),
    ("已联系来电人解释", "CONTACTED_AND_EXPLAINED", "§4(5)3"),
    ("已电话联系市民进行解释。", "CONTACTED_AND_EXPLAINED", "§4(5)3"),
    ("您好，我单位已致电来电人做好解释工作。", "CONTACTED_AND_EXPLAINED", "§4(5)3"),
    ("已向市民解释清楚。", "CONTACTED_AND_EXPLAINED", "§4(5)3"),
    ("已督促部门整改", "URGED_RECTIFICATION", "§4(5)3"),
    ("已督促相关部门整改。", "URGED_RECTIFICATION", "§4(5)3"),
    ("已督促责任单位进行整改", "URGED_RECTIFICATION", "§4(5)3"),
    ("我局已责成其限期整改。", "URGED_RECTIFICATION", "§4(5)3"),
    ("详情请拨打某某电话咨询", "REFER_TO_PHONE", "§4(5)3"),
    ("详情请拨打12345热线咨询。", "REFER_TO_PHONE", "§4(5)3"),
    ("请致电0527-84361234咨询", "REFER_TO_PHONE", "§4(5)3"),
    ("请致电xxx咨询", "REFER_TO_PHONE", "§4(5)3"),
    ("详情请咨询市社保中心，电话84361234。", "REFER_TO_PHONE", "§4(5)3"),
    ("市民可拨打市住建局电话0527-84369999了解具体政策。", "REFER_TO_PHONE", "§4(5)3"),
    ("正在办理，请等待处理结果", "PENDING_PLEASE_WAIT", "§4(5)3"),
    ("正在处理中请耐心等待", "PENDING_PLEASE_WAIT", "§4(5)3"),
    ("该事项正在办理中，请等待……", "PENDING_PLEASE_WAIT", "§4(5)3"),
    ("目前正在协调相关部门，请市民耐心等候。", "PENDING_PLEASE_WAIT", "§4(5)3"),
    ("市民电话未接听无法沟通", "CITIZEN_UNREACHABLE", "§4(5)5"),
    ("来电人电话无人接听，无法沟通。", "CITIZEN_UNREACHABLE", "§4(5)5"),
    ("市民电话未接通，无法联系。", "CITIZEN_UNREACHABLE", "§4(5)5"),
    ("多次拨打市民电话均无人接听，无法与其取得联系。", "CITIZEN_UNREACHABLE", "§4(5)5"),
    ("非本单位职能", "NOT_OUR_FUNCTION", "§4(5)6"),
    ("经查，非我单位职责。", "NOT_OUR_FUNCTION", "§4(5)6"),
    ("该事项不属于本单位职能范围。", "NOT_OUR_FUNCTION", "§4(5)6"),
    ("非本部门职责", "NOT_OUR_FUNCTION", "§4(5)6"),
    ("此事不在我局职责范围内。", "NOT_OUR_FUNCTION", "§4(5)6"),
    ("该事项不属于我们单位的职责。", "NOT_OUR_FUNCTION", "§4(5)6"),
    ("暂时无法解决", "TEMPORARILY_UNSOLVABLE", "§4(5)7"),
    ("因资金原因，目前暂时无法解决。", "TEMPORARILY_UNSOLVABLE", "§4(5)7"),
    ("暂无法解决", "TEMPORARILY_UNSOLVABLE", "§4(5)7"),
    ("该问题暂不能解决。", "TEMPORARILY_UNSOLVABLE", "§4(5)7"),
    # normalisation: spaces, full-width characters and punctuation inside the phrase
    ("已 联系 市民 ， 解释", "CONTACTED_AND_EXPLAINED", "§4(5)3"),
    ("详情请拨打１２３４５咨询", "REFER_TO_PHONE", "§4(5)3"),
    ("请致电ＸＸＸ咨询", "REFER_TO_PHONE", "§4(5)3"),
    ("正在办理\n请等待处理结果", "PENDING_PLEASE_WAIT", "§4(5)3"),
    ("“非本单位职能”", "NOT_OUR_FUNCTION", "§4(5)6"),
]


@pytest.mark.parametrize(("text", "rule", "clause"), HOLLOW_CASES)
def test_hollow_phrase_is_flagged(text: str, rule: str, clause: str) -> None:
    findings = lint_reply(text)
    assert [f.rule for f in findings] == [rule], findings
    (finding,) = findings
    assert finding.clause == clause
    assert finding.phrase == text[finding.start : finding.end]
    assert finding.phrase.strip() == finding.phrase  # starts and ends on a matched character
    assert is_hollow(text)


def test_each_rule_has_cases() -> None:
    assert {rule for _, rule, _ in HOLLOW_CASES} == set(RULE_CODES)


NOT_HOLLOW = [
    "已联系市民，现场核实后于3月5日完成路灯维修，市民表示满意",
    "经核实，该事项属于我单位职能，已于3月6日处理完毕，市民表示满意。",
    "市民拨打12345咨询公积金提取事宜，经核实，已于3月6日为其办理提取手续。",
    "申请人致电我局咨询补贴发放进度，经查补贴已于3月8日发放到账。",
    "已督促施工单位于3月5日前完成修复，经复查已整改到位，市民表示满意。",
    "正在施工的路段已于3月5日恢复通行，请市民放心。",
    "该路段改造短期内无法完成，已列入2026年城建计划，预计6月底前完工，市民表示理解。",
    "承办人张三，联系电话0527-84361234，已于3月5日上门处理。",
    "市民首次来电未接通，承办人于3月5日再次联系并上门沟通，问题已解决。",
    "该小区属于本街道管辖，已安排网格员于3月5日上门核实并清理垃圾。",
    "详见附件《宿迁市住房公积金提取管理办法》第十条。",
    "",
]


@pytest.mark.parametrize("text", NOT_HOLLOW)
def test_substantive_reply_is_not_flagged(text: str) -> None:
    assert lint_reply(text) == []
    assert not is_hollow(text)


def test_positions_refer_to_the_original_text() -> None:
    text = "您好！经查，已 与 市民联系，并解释。另：非本单位职能。"
    findings = lint_reply(text)
    assert [(f.rule, f.phrase) for f in findings] == [
        ("CONTACTED_AND_EXPLAINED", "已 与 市民联系，并解释"),
        ("NOT_OUR_FUNCTION", "非本单位职能"),
    ]
    for f in findings:
        assert text[f.start : f.end] == f.phrase
    assert findings[0].start == text.index("已")
    assert findings[1].end == text.index("职能") + 2


def test_several_findings_in_one_reply_in_order() -> None:
    text = "正在办理，请等待处理结果。详情请拨打12345咨询。暂时无法解决。"
    assert [f.rule for f in lint_reply(text)] == [
        "PENDING_PLEASE_WAIT",
        "REFER_TO_PHONE",
        "TEMPORARILY_UNSOLVABLE",
    ]


def test_same_words_are_reported_once_per_rule() -> None:
    # matches both CONTACTED_AND_EXPLAINED patterns (联系… and 向市民解释)
    text = "已联系并向市民解释"
    assert [f.rule for f in lint_reply(text)] == ["CONTACTED_AND_EXPLAINED"]


def test_gaps_are_bounded() -> None:
    # far apart, the words no longer form the phrase
    assert not is_hollow("已联系市民，现场核实了路面破损的具体范围和原因后，向施工方解释")
    assert not is_hollow("正在" + "甲" * 20 + "请等待")
    assert not is_hollow("市民电话未接听，" + "已发送短信告知处理结果" * 2 + "无法沟通")


def test_findings_serialise_for_storage() -> None:
    (finding,) = lint_reply("暂时无法解决")
    assert dataclasses.asdict(finding) == {
        "rule": "TEMPORARILY_UNSOLVABLE",
        "phrase": "暂时无法解决",
        "start": 0,
        "end": 6,
        "clause": "§4(5)7",
    }
    assert isinstance(finding, LintFinding)


def test_normalise() -> None:
    assert normalise(" 已联系，市民（ＡＢＣ）１２３。\n…") == "已联系市民abc123"


# --- elements ----------------------------------------------------------------------------------

CONTACTED = datetime(2026, 3, 5, 10, 0, tzinfo=TZ)

FULL = ReplyContent(
    handler_name="张三",
    handler_phone="0527-84361234",
    contacted_at=CONTACTED,
    communication="3月5日上午电话联系市民，告知路灯已修复",
    citizen_satisfied=True,
    unsatisfied_reasons=None,
    documents=(),
    handling="现场核实后更换灯具，3月5日恢复照明",
    outcome=Outcome.RESOLVED,
    text="经现场核实，已于3月5日更换灯具恢复照明，市民表示满意。",
)


def reply(**changes: object) -> ReplyContent:
    return dataclasses.replace(FULL, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "anonymous", "expected"),
    [
        ({}, False, []),
        ({}, True, []),
        ({"handler_phone": None, "handling": ""}, False, []),  # not needed when named
        (
            {"contacted_at": None, "communication": "", "citizen_satisfied": None},
            True,
            [],
        ),  # not needed when anonymous
        ({"handler_name": ""}, False, ["handlerName"]),
        ({"handler_name": "   "}, True, ["handlerName"]),
        ({"contacted_at": None}, False, ["contactedAt"]),
        ({"communication": " \n"}, False, ["communication"]),
        ({"citizen_satisfied": None}, False, ["citizenSatisfied"]),
        (
            {"citizen_satisfied": False},
            False,
            ["unsatisfiedReasons", "documents"],
        ),
        (
            {"citizen_satisfied": False, "unsatisfied_reasons": "补贴标准不符合其预期"},
            False,
            ["documents"],
        ),
        (
            {"citizen_satisfied": False, "unsatisfied_reasons": "  ", "documents": ("  ",)},
            False,
            ["unsatisfiedReasons", "documents"],
        ),
        (
            {
                "citizen_satisfied": False,
                "unsatisfied_reasons": "补贴标准不符合其预期",
                "documents": ("宿政办发〔2021〕12号",),
            },
            False,
            [],
        ),
        ({"handler_phone": None}, True, ["handlerPhone"]),
        ({"handler_phone": ""}, True, ["handlerPhone"]),
        ({"handling": ""}, True, ["handling"]),
        (
            {"handler_name": "", "handler_phone": None, "handling": " "},
            True,
            ["handlerName", "handlerPhone", "handling"],
        ),
        (
            {
                "handler_name": "",
                "contacted_at": None,
                "communication": "",
                "citizen_satisfied": None,
            },
            False,
            ["handlerName", "contactedAt", "communication", "citizenSatisfied"],
        ),
        # §4(4) final reply: the wording and supporting documents, named or anonymous
        ({"outcome": Outcome.FINAL_REPLY}, False, ["documents", "finalReplyWording"]),
        ({"outcome": Outcome.FINAL_REPLY}, True, ["documents", "finalReplyWording"]),
        (
            {
                "outcome": Outcome.FINAL_REPLY,
                "text": "经研究，该诉求无政策依据。此为最终答复。",
                "documents": ("2026年3月2日专题会议纪要",),
            },
            False,
            [],
        ),
        (
            {
                "outcome": Outcome.FINAL_REPLY,
                "text": "经研究，该诉求无政策依据。此为 最终答复",
                "documents": ("会议纪要",),
            },
            False,
            [],
        ),
        (
            {"outcome": Outcome.FINAL_REPLY, "documents": ("会议纪要",)},
            False,
            ["finalReplyWording"],
        ),
        (
            {"outcome": Outcome.FINAL_REPLY, "text": "此为最终答复"},
            False,
            ["documents"],
        ),
        (  # "documents" only once although two rules need it
            {"outcome": Outcome.FINAL_REPLY, "citizen_satisfied": False, "text": "此为最终答复"},
            False,
            ["unsatisfiedReasons", "documents"],
        ),
        # other outcomes need no wording
        ({"outcome": Outcome.EXPLAINED}, False, []),
        ({"outcome": Outcome.TERMINATED}, False, []),
        ({"outcome": Outcome.REFERRED_TO_LEGAL_CHANNEL}, False, []),
    ],
)
def test_missing_elements(changes: dict[str, object], anonymous: bool, expected: list[str]) -> None:
    result = missing_elements(reply(**changes), anonymous=anonymous)
    assert result == expected
    assert all(name in ELEMENTS for name in result)


def test_element_names_are_stable() -> None:
    assert ELEMENTS == (
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


def test_enums_and_constants() -> None:
    assert FINAL_REPLY_WORDING == "此为最终答复"
    assert [o.value for o in Outcome] == [
        "RESOLVED",
        "EXPLAINED",
        "TERMINATED",
        "REFERRED_TO_LEGAL_CHANNEL",
        "FINAL_REPLY",
    ]
    assert [s.value for s in Satisfaction] == [
        "SATISFIED",
        "BASICALLY_SATISFIED",
        "UNSATISFIED",
        "UNREACHABLE",
    ]
    assert [o for o in Outcome if requires_main_leader_approval(o)] == [Outcome.FINAL_REPLY]

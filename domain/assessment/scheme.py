"""The scoring scheme as data (§6): weights, thresholds and cliffs, validated by a pure function.

The regulation names the indicators (重视程度, 按时办结率, 群众满意度, 实际解决率 …) and a
100-point scale, not the weights: those are data, stored as versioned, effective-dated JSON
(``scoring_scheme``) and documented in ``docs/ASSESSMENT.md``. A body looks like::

    {
      "levels": {"PROVINCE": 0.5, "CITY": 0.5},
      "rates": {"ON_TIME_COMPLETION": {"weight": 30, "fullAt": 0.95, "cliff": 0.6}, ...},
      "attention": {"weight": 15, "default": 100},
      "deductions": {"REDO": {"perCase": 2, "cap": 10, "free": 0}, ...},
      "unitDeductions": {"SUPERVISION_OVERDUE": {"perCase": 2, "cap": 6}, ...},
      "bottom": 3
    }

Rules :func:`parse_scheme` enforces: both origin levels with positive weights; every rate
indicator once with ``0 <= cliff < fullAt <= 1``; rate weights plus the attention weight sum to
exactly 100; deductions with ``perCase > 0``, ``cap >= 0``, integer ``free >= 0``; the attention
default within 0–100; ``bottom >= 1``; no unknown keys anywhere (a typo must not silently drop
a rule).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.errors import InvalidInput


class Indicator(enum.StrEnum):
    RECEIVED = "RECEIVED"  # assignments received (context, no points)
    SIGN_ON_TIME = "SIGN_ON_TIME"  # 按时签收
    ON_TIME_COMPLETION = "ON_TIME_COMPLETION"  # 按时办结率
    SATISFACTION = "SATISFACTION"  # 群众满意度
    ACTUAL_RESOLUTION = "ACTUAL_RESOLUTION"  # 实际解决率
    RETURN_RATE = "RETURN_RATE"  # 退回率 (context, no points: returning in time is allowed)
    REJECTED_RETURN = "REJECTED_RETURN"  # 退回被驳回
    REDO = "REDO"  # 退回重办
    EXTENSION = "EXTENSION"  # 延期
    SENT_BACK = "SENT_BACK"  # 答复被退回补充
    HOLLOW_REPLY = "HOLLOW_REPLY"  # 无效答复 (§4(5))
    SUPERVISION_OPENED = "SUPERVISION_OPENED"  # 被督办
    SUPERVISION_OVERDUE = "SUPERVISION_OVERDUE"  # 督办逾期未反馈
    ATTENTION = "ATTENTION"  # 重视程度
    LEVEL_SCORE = "LEVEL_SCORE"  # a level's score in the composite


RATE_INDICATORS = (
    Indicator.SIGN_ON_TIME,
    Indicator.ON_TIME_COMPLETION,
    Indicator.SATISFACTION,
    Indicator.ACTUAL_RESOLUTION,
)
DEDUCTION_INDICATORS = (
    Indicator.REJECTED_RETURN,
    Indicator.REDO,
    Indicator.EXTENSION,
    Indicator.SENT_BACK,
    Indicator.HOLLOW_REPLY,
)
UNIT_DEDUCTION_INDICATORS = (Indicator.SUPERVISION_OPENED, Indicator.SUPERVISION_OVERDUE)
LEVELS = ("PROVINCE", "CITY")


@dataclass(frozen=True)
class RateRule:
    weight: Decimal
    full_at: Decimal  # the rate at which the indicator earns its whole weight
    cliff: Decimal  # below this rate the indicator earns nothing


@dataclass(frozen=True)
class DeductionRule:
    per_case: Decimal
    cap: Decimal
    free: int = 0  # cases that cost nothing (e.g. the first extensions)


@dataclass(frozen=True)
class Scheme:
    levels: dict[str, Decimal]
    rates: dict[Indicator, RateRule]
    attention_weight: Decimal
    attention_default: Decimal
    deductions: dict[Indicator, DeductionRule]
    unit_deductions: dict[Indicator, DeductionRule]
    bottom: int


def _dec(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"{where} must be a number", field="body")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{where} must be a number", field="body") from None
    if not d.is_finite():
        raise InvalidInput(f"{where} must be a finite number", field="body")
    return d


def _obj(value: Any, where: str, keys: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be an object", field="body")
    unknown = set(value) - keys
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {', '.join(sorted(unknown))}", field="body")
    missing = required - set(value)
    if missing:
        raise InvalidInput(f"{where}: missing {', '.join(sorted(missing))}", field="body")
    return value


def _deduction(value: Any, where: str) -> DeductionRule:
    o = _obj(value, where, {"perCase", "cap", "free"}, {"perCase", "cap"})
    per_case = _dec(o["perCase"], f"{where}.perCase")
    cap = _dec(o["cap"], f"{where}.cap")
    free = o.get("free", 0)
    if isinstance(free, bool) or not isinstance(free, int) or free < 0:
        raise InvalidInput(f"{where}.free must be a whole number >= 0", field="body")
    if per_case <= 0:
        raise InvalidInput(f"{where}.perCase must be > 0", field="body")
    if cap < 0 or cap > 100:
        raise InvalidInput(f"{where}.cap must be within 0–100", field="body")
    return DeductionRule(per_case=per_case, cap=cap, free=free)


def _deductions(value: Any, where: str, allowed: tuple[Indicator, ...]) -> dict[Indicator, Any]:
    names = {i.value for i in allowed}
    o = _obj(value, where, names, names)
    return {Indicator(k): _deduction(v, f"{where}.{k}") for k, v in o.items()}


def parse_scheme(body: Any) -> Scheme:
    """Validate a scheme body; raise InvalidInput naming the first problem."""
    top = {"levels", "rates", "attention", "deductions", "unitDeductions", "bottom"}
    o = _obj(body, "scheme", top, top)
    lv = _obj(o["levels"], "levels", set(LEVELS), set(LEVELS))
    levels = {k: _dec(lv[k], f"levels.{k}") for k in LEVELS}
    if any(w <= 0 for w in levels.values()):
        raise InvalidInput("levels: each origin level's weight must be > 0", field="body")
    rate_names = {i.value for i in RATE_INDICATORS}
    ro = _obj(o["rates"], "rates", rate_names, rate_names)
    rates: dict[Indicator, RateRule] = {}
    for k in RATE_INDICATORS:
        r = _obj(ro[k.value], f"rates.{k}", {"weight", "fullAt", "cliff"}, {"weight", "fullAt"})
        rule = RateRule(
            weight=_dec(r["weight"], f"rates.{k}.weight"),
            full_at=_dec(r["fullAt"], f"rates.{k}.fullAt"),
            cliff=_dec(r.get("cliff", 0), f"rates.{k}.cliff"),
        )
        if rule.weight < 0:
            raise InvalidInput(f"rates.{k}.weight must be >= 0", field="body")
        if not (0 <= rule.cliff < rule.full_at <= 1):
            raise InvalidInput(f"rates.{k}: need 0 <= cliff < fullAt <= 1", field="body")
        rates[k] = rule
    at = _obj(o["attention"], "attention", {"weight", "default"}, {"weight", "default"})
    attention_weight = _dec(at["weight"], "attention.weight")
    attention_default = _dec(at["default"], "attention.default")
    if attention_weight < 0:
        raise InvalidInput("attention.weight must be >= 0", field="body")
    if not 0 <= attention_default <= 100:
        raise InvalidInput("attention.default must be within 0–100", field="body")
    total = sum((r.weight for r in rates.values()), Decimal(0)) + attention_weight
    if total != 100:
        raise InvalidInput(
            f"the rate weights and the attention weight must sum to 100, not {total}",
            field="body",
        )
    bottom = o["bottom"]
    if isinstance(bottom, bool) or not isinstance(bottom, int) or bottom < 1:
        raise InvalidInput("bottom must be a whole number >= 1", field="body")
    return Scheme(
        levels=levels,
        rates=rates,
        attention_weight=attention_weight,
        attention_default=attention_default,
        deductions=_deductions(o["deductions"], "deductions", DEDUCTION_INDICATORS),
        unit_deductions=_deductions(
            o["unitDeductions"], "unitDeductions", UNIT_DEDUCTION_INDICATORS
        ),
        bottom=bottom,
    )

"""Demo tickets (``--demo``): 12345-style tickets in every state a screen shows.

Every ticket is driven **only** through the ticket use cases of ``domain.tickets.service``,
acting as the demo accounts of :mod:`seeds.demo` (``city.dispatcher``, ``cgj.handler``,
``shuyang.zjj.leader`` …), so each state carries the history the platform itself would have
recorded. The one write outside the use cases marks each ticket ``demo`` right after its
creation.

Together the tickets cover: undispatched (NEW), to sign (DISPATCHED), a return to decide
(RETURN_REQUESTED), a rejected return dispatched again (``return_locked``), an approved return
(RETURNED) dispatched elsewhere, HANDLING with a co-unit, a hollow draft with lint findings
(REPLY_DRAFTED), REPLY_APPROVED, REPLY_SUBMITTED (to review), a reply sent back for supplement,
a pending extension, a callback due (ACCEPTED / REPLIED, lead and co-unit), an unsatisfied
callback followed by a redo, CLOSED, ARCHIVED and one overdue assignment — in the city centre
(3213) and in 沭阳县 (321322).

Times are simulated (``now=``) over the ten days before the current time, capped at
:data:`LATEST_BASE`: the holiday data ends with 2026 and the deadline arithmetic refuses a
year it does not cover, so no deadline may fall in 2027. Event rows carry the database clock
(the event log is append-only and stamps ``at`` itself), i.e. the time of seeding.

Idempotent: when any demo ticket exists, nothing is done. A session advisory lock serialises
concurrent seeds, so two of them create the tickets once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal, load_principal
from domain.calendar import TZ
from domain.db import make_sessionmaker
from domain.inputs import aware_now
from domain.registry.models import Unit
from domain.tickets import service as svc
from domain.tickets.models import (
    Assignment,
    AssignmentStatus,
    Channel,
    OriginLevel,
    Ticket,
    Urgency,
)
from domain.tickets.reply_rules import Satisfaction
from domain.uow import UnitOfWork
from seeds.demo import SHUYANG
from seeds.once import seed_once
from seeds.registry import CITY_CODE, Progress

__all__ = ["LATEST_BASE", "seed_demo_tickets"]

# The last "now" the demo is simulated at: deadlines computed from it stay inside 2026.
LATEST_BASE = datetime(2026, 12, 20, 18, 0, tzinfo=TZ)
# pg_advisory_lock key ("YIWANGD"): one demo-ticket seed at a time.
LOCK_KEY = 0x59_49_57_41_4E_47_44

CITY = CITY_CODE
CGJ = "市城管局"
WATER = "市水务集团"
HRSS = "市人力资源社会保障局"
HOUSING = "市住房城乡建设局"
SY_CGJ = "demo:shuyang-cgj"
SY_ZJJ = "demo:shuyang-zjj"


class _Demo:
    """The use cases, acting as demo accounts at simulated times."""

    def __init__(self, engine: AsyncEngine, enforcer: PolicyEnforcer, base: datetime) -> None:
        self.engine = engine
        self.sessions = make_sessionmaker(engine)
        self.uow = UnitOfWork(self.sessions, enforcer)
        self.enforcer = enforcer
        self.base = base
        self.created = 0
        self._principals: dict[str, Principal] = {}
        self._units: dict[str, int] = {}

    def ago(self, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        return self.base - timedelta(days=days, hours=hours, minutes=minutes)

    async def who(self, username: str) -> Principal:
        if username not in self._principals:
            async with self.sessions() as s:
                p = await load_principal(s, self.enforcer, username)
            if p is None:
                raise RuntimeError(f"demo account {username} is missing or inactive")
            self._principals[username] = p
        return self._principals[username]

    async def unit(self, ref: str) -> int:
        """A unit by demo seed key (``demo:…``) or by its name among the city's members."""
        if ref not in self._units:
            where = (
                Unit.seed_key == ref
                if ref.startswith("demo:")
                else (Unit.name == ref) & (Unit.member_of == CITY)
            )
            async with self.sessions() as s:
                self._units[ref] = (await s.execute(select(Unit.id).where(where))).scalar_one()
        return self._units[ref]

    # ---- intake and dispatch ------------------------------------------------------------------
    async def create(self, dispatcher: str, data: svc.NewTicket) -> int:
        assert data.received_at is not None
        t = await svc.create_ticket(
            uow=self.uow,
            actor=await self.who(dispatcher),
            data=dataclasses.replace(data, demo=True),
            now=data.received_at,
        )
        self.created += 1
        return t.id

    async def dispatch(
        self,
        dispatcher: str,
        ticket_id: int,
        lead: str,
        co: Sequence[str] = (),
        *,
        at: datetime,
        note: str | None = None,
        due_at: datetime | None = None,
    ) -> list[int]:
        """Dispatch; the new assignments' ids, lead first."""
        units = [await self.unit(u) for u in (lead, *co)]
        await svc.dispatch_ticket(
            uow=self.uow,
            actor=await self.who(dispatcher),
            ticket_id=ticket_id,
            lead_unit_id=units[0],
            co_unit_ids=units[1:],
            note=note,
            due_at=due_at,
            now=at,
        )
        async with self.sessions() as s:
            rows = await s.execute(
                select(Assignment.unit_id, Assignment.id).where(
                    Assignment.ticket_id == ticket_id,
                    Assignment.status == AssignmentStatus.DISPATCHED,
                    Assignment.unit_id.in_(units),
                )
            )
            ids = {unit_id: assignment_id for unit_id, assignment_id in rows}
        return [ids[u] for u in units]

    # ---- the unit's side ----------------------------------------------------------------------
    async def sign(self, handler: str, assignment_id: int, at: datetime) -> None:
        await svc.sign_for(
            uow=self.uow, actor=await self.who(handler), assignment_id=assignment_id, now=at
        )

    async def request_return(
        self, handler: str, assignment_id: int, data: svc.ReturnInput, at: datetime
    ) -> None:
        await svc.request_return(
            uow=self.uow,
            actor=await self.who(handler),
            assignment_id=assignment_id,
            data=data,
            now=at,
        )

    async def request_extension(
        self, handler: str, assignment_id: int, reason: str, days: int, at: datetime
    ) -> None:
        async with self.sessions() as s:
            due = (
                await s.execute(select(Assignment.due_at).where(Assignment.id == assignment_id))
            ).scalar_one()
        await svc.request_extension(
            uow=self.uow,
            actor=await self.who(handler),
            assignment_id=assignment_id,
            reason=reason,
            proposed_due=due + timedelta(days=days),
            now=at,
        )

    async def draft(
        self, handler: str, assignment_id: int, reply: svc.ReplyInput, at: datetime
    ) -> None:
        await svc.draft_reply(
            uow=self.uow,
            actor=await self.who(handler),
            assignment_id=assignment_id,
            data=reply,
            now=at,
        )

    async def approve(self, leader: str, assignment_id: int, at: datetime) -> None:
        await svc.approve_reply(
            uow=self.uow, actor=await self.who(leader), assignment_id=assignment_id, now=at
        )

    async def submit(self, leader: str, assignment_id: int, at: datetime) -> None:
        await svc.submit_reply(
            uow=self.uow, actor=await self.who(leader), assignment_id=assignment_id, now=at
        )

    async def answer(
        self,
        handler: str,
        leader: str,
        assignment_id: int,
        reply: svc.ReplyInput,
        at: datetime,
        *,
        submit: bool = True,
    ) -> None:
        """Draft at ``at``; the leader approves an hour later and (``submit``) submits."""
        await self.draft(handler, assignment_id, reply, at)
        await self.approve(leader, assignment_id, at + timedelta(hours=1))
        if submit:
            await self.submit(leader, assignment_id, at + timedelta(hours=1, minutes=10))

    # ---- the centre's side --------------------------------------------------------------------
    async def decide_return(
        self, dispatcher: str, assignment_id: int, approve: bool, note: str, at: datetime
    ) -> None:
        await svc.decide_return(
            uow=self.uow,
            actor=await self.who(dispatcher),
            assignment_id=assignment_id,
            approve=approve,
            note=note,
            now=at,
        )

    async def review(
        self,
        dispatcher: str,
        assignment_id: int,
        at: datetime,
        *,
        reasons: str | None = None,
        supplement_due: datetime | None = None,
    ) -> None:
        """Accept the reply, or (``reasons`` given) send it back for supplement."""
        await svc.review_reply(
            uow=self.uow,
            actor=await self.who(dispatcher),
            assignment_id=assignment_id,
            accept=reasons is None,
            reasons=reasons,
            supplement_due=supplement_due,
            now=at,
        )

    async def callback(
        self,
        dispatcher: str,
        ticket_id: int,
        satisfaction: Satisfaction,
        resolved: bool,
        note: str,
        at: datetime,
    ) -> None:
        await svc.record_callback(
            uow=self.uow,
            actor=await self.who(dispatcher),
            ticket_id=ticket_id,
            satisfaction=satisfaction,
            actually_resolved=resolved,
            note=note,
            now=at,
        )

    async def redo(self, dispatcher: str, ticket_id: int, reason: str, at: datetime) -> None:
        await svc.redo_ticket(
            uow=self.uow,
            actor=await self.who(dispatcher),
            ticket_id=ticket_id,
            reason=reason,
            now=at,
        )

    async def archive(self, dispatcher: str, ticket_id: int, at: datetime) -> None:
        await svc.archive_ticket(
            uow=self.uow, actor=await self.who(dispatcher), ticket_id=ticket_id, now=at
        )


def _ticket(
    centre: str,
    received_at: datetime,
    *,
    category: str,
    title: str,
    content: str,
    channel: Channel = Channel.HOTLINE_12345,
    origin: OriginLevel = OriginLevel.CITY,
    urgency: Urgency = Urgency.NORMAL,
    address: str | None = None,
    division: str | None = None,
    name: str | None = None,
    phone: str | None = None,
) -> svc.NewTicket:
    """A ticket as taken in; without a name and a phone it is anonymous."""
    return svc.NewTicket(
        channel=channel,
        origin_level=origin,
        category_code=category,
        title=title,
        content=content,
        urgency=urgency,
        address=address,
        division_code=division,
        complainant_name=name,
        complainant_phone=phone,
        anonymous=name is None and phone is None,
        received_at=received_at,
        centre_code=centre,
    )


def _reply(
    handler: str,
    at: datetime,
    *,
    communication: str,
    handling: str,
    text: str,
    phone: str = "0527-84360000",
    anonymous: bool = False,
) -> svc.ReplyInput:
    """A complete reply (§4(2)); a named citizen was reached two hours before ``at``."""
    return svc.ReplyInput(
        handler_name=handler,
        handler_phone=phone,
        contacted_at=None if anonymous else at - timedelta(hours=2),
        communication=communication,
        citizen_satisfied=None if anonymous else True,
        handling=handling,
        text=text,
    )


# ---- 市级 (3213): city.dispatcher, 市城管局 (cgj.handler / cgj.leader) -----------------
CD = "city.dispatcher"
CH, CL = "cgj.handler", "cgj.leader"


async def _new_province_order(d: _Demo) -> None:
    """Undispatched: a province order about a medical insurance reimbursement."""
    await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(hours=1, minutes=20),
            channel=Channel.PROVINCE_ORDER,
            origin=OriginLevel.PROVINCE,
            category="MI.REIMBURSEMENT",
            title="异地住院医保报销款两个多月未到账",
            content=(
                "省12345转办：来电人反映其母亲今年在上海住院治疗，已按规定办理异地就医备案，"
                "出院后向医保经办窗口提交了报销材料，至今两个多月报销款仍未到账，"
                "多次询问均称在审核中，希望相关部门尽快核查并告知办理进度。"
            ),
            address="宿城区幸福街道",
            division="321302001",
            name="周女士",
            phone="13905271101",
        ),
    )


async def _new_gas_smell(d: _Demo) -> None:
    """Undispatched and safety-critical: it tops the dispatcher's queue."""
    await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(minutes=8),
            urgency=Urgency.SAFETY_CRITICAL,
            category="GS.LEAK",
            title="小区楼道内燃气异味明显",
            content=(
                "来电人反映宿豫区顺河街道某小区3号楼2单元楼道内燃气异味明显，已持续约半小时，"
                "担心有燃气泄漏，住户已开窗通风，请求燃气公司尽快派人上门检查处置。"
            ),
            address="宿豫区顺河街道某小区3号楼2单元",
            division="321311001",
            name="陈先生",
            phone="13815271102",
        ),
    )


async def _to_sign_water(d: _Demo) -> None:
    """To sign: an urgent water outage at 市水务集团."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(hours=1, minutes=30),
            urgency=Urgency.URGENT,
            category="WS.WATER_OUTAGE",
            title="小区突然停水且无任何通知",
            content=(
                "来电人反映宿城区项里街道某小区今天早上7点起全小区停水，供水单位和物业均未提前"
                "发布停水通知，家中有老人和小孩，生活很不方便，请求尽快恢复供水并说明停水原因。"
            ),
            address="宿城区项里街道某小区",
            division="321302002",
            name="刘先生",
            phone="13952701103",
        ),
    )
    await d.dispatch(
        CD, t, WATER, at=d.ago(hours=1, minutes=10), note="请尽快核实停水原因并恢复供水"
    )


async def _to_sign_street_lights(d: _Demo) -> None:
    """To sign at 市城管局: found by a digital city-management inspector (anonymous)."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(hours=1),
            channel=Channel.DIGITAL_CITY_MANAGEMENT,
            category="CM.STREET_LIGHTS",
            title="发展大道路段路灯成片不亮",
            content=(
                "数字城管信息采集员巡查上报：发展大道与人民大道交叉口向东约200米路段路灯成片"
                "不亮，夜间该路段车流量大，行人和非机动车通行存在安全隐患。"
            ),
            address="宿城区发展大道与人民大道交叉口东侧",
            division="321302",
        ),
    )
    await d.dispatch(CD, t, CGJ, at=d.ago(minutes=40))


async def _return_requested(d: _Demo) -> None:
    """A return to decide: property fees sent to 市城管局 by mistake."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(hours=7),
            category="HP.PROPERTY_FEES",
            title="物业公司擅自上调物业费",
            content=(
                "来电人反映宿城区古城街道某小区物业公司未经业主大会同意，从本月起将物业费由"
                "每平方米每月0.8元上调至1.2元，业主多次与物业协商无果，请求相关部门依法查处。"
            ),
            address="宿城区古城街道某小区",
            division="321302004",
            name="孙女士",
            phone="13770271104",
        ),
    )
    [a] = await d.dispatch(CD, t, CGJ, at=d.ago(hours=6, minutes=30))
    await d.request_return(
        CH,
        a,
        svc.ReturnInput(
            reason="反映事项为物业服务收费标准调整，属物业行业监管事项，城管部门无相应执法权限",
            basis="《江苏省物业管理条例》关于物业服务收费监管的规定；市住建部门物业监管职责清单",
            suggested_unit=HOUSING,
            verifier_name="王建国",
            verifier_phone="0527-84361234",
        ),
        d.ago(hours=4),
    )


async def _return_rejected(d: _Demo) -> None:
    """A rejected return, dispatched again to 市城管局: return-locked, to sign again."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(hours=6, minutes=30),
            channel=Channel.GRID,
            category="CM.STREET_VENDING",
            title="早餐摊点长期占用人行道经营",
            content=(
                "网格员巡查上报：宿城区河滨街道某菜市场东侧人行道被多个早餐摊点长期占用经营，"
                "地面油污较多，行人只能绕行机动车道，早高峰时段存在交通安全隐患。"
            ),
            address="宿城区河滨街道某菜市场东侧人行道",
            division="321302003",
        ),
    )
    [a] = await d.dispatch(CD, t, CGJ, at=d.ago(hours=6))
    await d.request_return(
        CH,
        a,
        svc.ReturnInput(
            reason="摊点位于菜市场管理范围内，建议由市场监管部门督促市场开办方管理",
            basis="《江苏省城市市容和环境卫生管理条例》关于集贸市场内经营秩序的规定",
            suggested_unit="市市场监管局",
            verifier_name="王建国",
            verifier_phone="0527-84361234",
        ),
        d.ago(hours=4, minutes=30),
    )
    await d.decide_return(
        CD,
        a,
        False,
        "经核实摊点位于菜市场外的市政道路人行道上，占道经营属城管执法职责，不予退回",
        d.ago(hours=2),
    )


async def _returned_and_redispatched(d: _Demo) -> None:
    """An approved return (RETURNED at 市城管局), dispatched again to 市人力资源社会保障局."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(hours=22),
            channel=Channel.PROVINCE_ORDER,
            origin=OriginLevel.PROVINCE,
            category="LW.MIGRANT_WAGES",
            title="建筑工地拖欠12名农民工工资",
            content=(
                "省12345转办：来电人反映其在宿迁经济技术开发区某建筑工地从事木工，项目完工已"
                "三个月，包工头以开发商未结算工程款为由，拖欠其与工友共12人工资约18万元，"
                "请求帮助追讨。"
            ),
            address="宿迁经济技术开发区某建筑工地",
            division="321371",
            name="赵师傅",
            phone="15862701105",
        ),
    )
    [a] = await d.dispatch(CD, t, CGJ, at=d.ago(hours=21))
    await d.request_return(
        CH,
        a,
        svc.ReturnInput(
            reason="反映事项为拖欠农民工工资，属劳动保障监察职责，非城市管理事项",
            basis="《保障农民工工资支付条例》第十条：人力资源社会保障行政部门负责监察",
            suggested_unit=HRSS,
            verifier_name="王建国",
            verifier_phone="0527-84361234",
        ),
        d.ago(hours=19),
    )
    await d.decide_return(CD, a, True, "同意退回，改派市人力资源社会保障局", d.ago(hours=18))
    await d.dispatch(
        CD, t, HRSS, at=d.ago(hours=17, minutes=40), note="省转办件，请依法督促清偿欠薪"
    )


async def _handling_with_co_unit(d: _Demo) -> None:
    """HANDLING at 市城管局 (lead) with 市住房城乡建设局 as co-unit, not yet signed."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(days=1, hours=3),
            category="EN.NOISE",
            title="在建工地夜间施工噪音扰民",
            content=(
                "来电人反映宿城区洋北街道某在建楼盘工地连续多日夜间11点以后仍在浇筑混凝土，"
                "机械噪音很大，周边居民无法正常休息，请求查处并规范施工时间。"
            ),
            address="宿城区洋北街道某在建楼盘",
            division="321302007",
            name="吴先生",
            phone="18951271106",
        ),
    )
    lead, _co = await d.dispatch(
        CD,
        t,
        CGJ,
        [HOUSING],
        at=d.ago(days=1, hours=2),
        note="城管局牵头查处夜间施工噪音，住建局协助核查夜间施工许可",
    )
    await d.sign(CH, lead, d.ago(days=1, hours=1))


async def _hollow_draft(d: _Demo) -> None:
    """A hollow draft (§4(5)) waiting for the leader: lint findings on screen."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(days=3, hours=2),
            category="CM.CATERING_FUMES",
            title="楼下烧烤店油烟直排",
            content=(
                "来电人反映宿城区幸福街道某小区沿街底商烧烤店未安装油烟净化设施，油烟直排进入"
                "楼上住户家中，今年夏天以来多次向物业反映均未解决。"
            ),
            address="宿城区幸福街道某小区沿街底商",
            division="321302001",
            name="郑女士",
            phone="13905271107",
        ),
    )
    [a] = await d.dispatch(CD, t, CGJ, at=d.ago(days=3, hours=1))
    await d.sign(CH, a, d.ago(days=3))
    at = d.ago(hours=3)
    await d.draft(
        CH,
        a,
        svc.ReplyInput(
            handler_name="张明",
            handler_phone="0527-84360000",
            contacted_at=at - timedelta(hours=1),
            communication="电话与来电人沟通。",
            citizen_satisfied=None,
            handling="已督促商户整改。",
            text="已联系市民解释，已督促商户整改，正在处理中，请耐心等待处理结果。",
        ),
        at,
    )


async def _reply_approved(d: _Demo) -> None:
    """REPLY_APPROVED: the leader approved, the reply is not submitted yet."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(days=4, hours=2),
            category="CM.ILLEGAL_CONSTRUCTION",
            title="楼顶违规搭建彩钢房",
            content=(
                "来电人反映宿豫区豫新街道某小区12号楼顶层住户在楼顶公共平台搭建约40平方米彩钢房，"
                "存在安全隐患且破坏楼顶防水层，请求依法拆除。"
            ),
            address="宿豫区豫新街道某小区12号楼",
            division="321311002",
            name="钱先生",
            phone="13625271108",
        ),
    )
    [a] = await d.dispatch(CD, t, CGJ, at=d.ago(days=4, hours=1))
    await d.sign(CH, a, d.ago(days=4))
    at = d.ago(hours=20)
    await d.answer(
        CH,
        CL,
        a,
        _reply(
            "张明",
            at,
            communication="执法人员与来电人电话沟通，告知已立案调查及现场处置安排，来电人表示认可。",
            handling=(
                "执法中队现场勘查，确认彩钢房未取得规划许可，依法下达《责令限期拆除通知书》，"
                "当事人已于期限内自行拆除，楼顶平台恢复原状。"
            ),
            text=(
                "经查，您反映的楼顶彩钢房属违法建设。执法人员依法下达限期拆除通知后，当事人已于"
                "期限内自行拆除，楼顶平台已恢复原状。感谢您对城市管理工作的支持。"
            ),
        ),
        at,
        submit=False,
    )


async def _reply_submitted(d: _Demo) -> None:
    """REPLY_SUBMITTED, anonymous: at the centre for review."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(days=3, hours=5),
            category="CM.SANITATION",
            title="路口垃圾桶连续两天满溢无人清运",
            content=(
                "市民匿名反映宿城区双庄街道某路口垃圾桶连续两天满溢，垃圾散落在路面上，"
                "异味明显，影响周边环境。"
            ),
            address="宿城区双庄街道某路口",
            division="321302005",
        ),
    )
    [a] = await d.dispatch(CD, t, CGJ, at=d.ago(days=3, hours=4))
    await d.sign(CH, a, d.ago(days=3, hours=3))
    at = d.ago(days=1, hours=2)
    await d.answer(
        CH,
        CL,
        a,
        _reply(
            "李华",
            at,
            communication="匿名来电，无回访对象。",
            handling=(
                "环卫所当日安排清运车辆清空满溢垃圾桶并冲洗路面，该点位清运频次由每日一次"
                "调整为每日两次，并增设两只垃圾桶。"
            ),
            text=(
                "您反映的路口垃圾满溢问题，环卫部门已于接单当日清运完毕并冲洗路面，该点位已"
                "增设垃圾桶，清运频次调整为每日两次。如再发现类似问题，可通过12345反映。"
            ),
            phone="0527-84362345",
            anonymous=True,
        ),
        at,
    )


async def _sent_back(d: _Demo) -> None:
    """A reply sent back for supplement: HANDLING again, with a supplement due time."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(days=5, hours=2),
            category="CM.GREENING",
            title="小区门口行道树枯枝随时可能掉落",
            content=(
                "来电人反映宿城区幸福街道某小区南门外几棵行道树有大量枯枝，前几天刮风已有树枝掉落，"
                "险些砸到路人，请求尽快修剪。"
            ),
            address="宿城区幸福街道某小区南门外",
            division="321302001",
            name="冯先生",
            phone="13851271109",
        ),
    )
    [a] = await d.dispatch(CD, t, CGJ, at=d.ago(days=5, hours=1))
    await d.sign(CH, a, d.ago(days=5))
    at = d.ago(days=3)
    await d.answer(
        CH,
        CL,
        a,
        _reply(
            "张明",
            at,
            communication="与来电人电话沟通，告知园林养护单位将安排修剪。",
            handling="园林养护单位已列入修剪计划。",
            text="您反映的行道树枯枝问题，园林养护单位已列入修剪计划，将尽快安排修剪。",
        ),
        at,
    )
    await d.review(
        CD,
        a,
        d.ago(days=2),
        reasons="答复未说明枯枝修剪的完成时间和现场处置结果，请补充修剪完成情况及现场照片。",
        supplement_due=d.ago(days=-1),
    )


# ---- 沭阳县 (321322): shuyang.dispatcher, 沭阳县城管局 / 沭阳县住房城乡建设局 ------------
SD = "shuyang.dispatcher"
SCH, SCL = "shuyang.cgj.handler", "shuyang.cgj.leader"
SZH, SZL = "shuyang.zjj.handler", "shuyang.zjj.leader"


async def _extension_pending(d: _Demo) -> None:
    """An extension request waiting for the centre's decision."""
    t = await d.create(
        SD,
        _ticket(
            SHUYANG,
            d.ago(days=2, hours=2),
            category="HP.PROPERTY_SERVICE",
            title="小区电梯停运近两周物业不维修",
            content=(
                "来电人反映沭阳县沭城街道某小区5号楼电梯故障停运近两周，物业以维修资金未到位为由"
                "迟迟不修，楼内多位老人上下楼非常困难，请求督促物业尽快维修。"
            ),
            address="沭阳县沭城街道某小区5号楼",
            division="321322001",
            name="蒋女士",
            phone="13961271110",
        ),
    )
    [a] = await d.dispatch(SD, t, SY_ZJJ, at=d.ago(days=2, hours=1))
    await d.sign(SZH, a, d.ago(days=2))
    await d.request_extension(
        SZH,
        a,
        "经现场核实需更换电梯主控板，配件须向厂家订购，到货约需7天；维修资金使用还需业主表决，"
        "申请延期5天。",
        5,
        d.ago(hours=3),
    )


async def _callback_due_with_co_unit(d: _Demo) -> None:
    """Both units' replies accepted: REPLIED, the callback is due (a province order)."""
    t = await d.create(
        SD,
        _ticket(
            SHUYANG,
            d.ago(days=6, hours=3),
            channel=Channel.PROVINCE_ORDER,
            origin=OriginLevel.PROVINCE,
            category="CM.STREET_VENDING",
            title="夜市摊贩占道经营且路面坑洼难行",
            content=(
                "省12345转办：来电人反映沭阳县南湖街道某路段每天傍晚起大量摊贩占道经营，该路段"
                "路面又有多处坑洼破损，车辆和行人通行十分困难，请求整治占道经营并修复路面。"
            ),
            address="沭阳县南湖街道某路段",
            division="321322002",
            name="韩先生",
            phone="15151271111",
        ),
    )
    lead, co = await d.dispatch(
        SD,
        t,
        SY_CGJ,
        [SY_ZJJ],
        at=d.ago(days=6, hours=2),
        note="城管局牵头整治占道经营，住建局负责修复破损路面",
    )
    await d.sign(SCH, lead, d.ago(days=6, hours=1))
    await d.sign(SZH, co, d.ago(days=6))
    at = d.ago(days=3)
    await d.answer(
        SCH,
        SCL,
        lead,
        _reply(
            "李强",
            at,
            communication="执法人员电话联系来电人，通报夜市整治安排，来电人表示满意。",
            handling=(
                "县城管局联合南湖街道连续三晚开展夜市整治，劝导摊贩进入指定便民疏导点经营，"
                "对拒不整改的两户依法暂扣经营工具，并安排队员每晚定点值守。"
            ),
            text=(
                "您反映的夜市占道经营问题，县城管局已会同南湖街道开展集中整治，摊贩已引导至"
                "便民疏导点经营，该路段实行每晚定点值守，通行秩序已恢复。"
            ),
        ),
        at,
    )
    await d.answer(
        SZH,
        SZL,
        co,
        _reply(
            "王芳",
            at + timedelta(hours=2),
            communication="工作人员电话告知来电人路面修复进度，来电人表示认可。",
            handling="县住建局安排市政养护队对该路段6处坑洼进行沥青修补，次日完工并开放通行。",
            text="您反映的路面坑洼问题，市政养护队已完成该路段6处破损路面的沥青修补，已恢复通行。",
        ),
        at + timedelta(hours=2),
    )
    await d.review(SD, lead, d.ago(days=1, hours=2))
    await d.review(SD, co, d.ago(days=1, hours=1))


async def _redo_after_unsatisfied_callback(d: _Demo) -> None:
    """An unsatisfied callback, then a redo: the lead unit handles it again."""
    t = await d.create(
        SD,
        _ticket(
            SHUYANG,
            d.ago(days=8, hours=3),
            category="WS.DRAINAGE",
            title="老旧小区下水道堵塞污水外溢",
            content=(
                "来电人反映沭阳县梦溪街道某老旧小区2号楼前下水道堵塞，污水从窨井外溢到路面，"
                "臭味很大，居民出行困难，请求尽快疏通。"
            ),
            address="沭阳县梦溪街道某老旧小区2号楼前",
            division="321322003",
            name="杨先生",
            phone="13775271112",
        ),
    )
    [a] = await d.dispatch(SD, t, SY_ZJJ, at=d.ago(days=8, hours=2))
    await d.sign(SZH, a, d.ago(days=8))
    at = d.ago(days=6)
    await d.answer(
        SZH,
        SZL,
        a,
        _reply(
            "王芳",
            at,
            communication="工作人员到现场与来电人面谈，告知疏通安排，来电人表示同意。",
            handling="县住建局安排排水养护单位使用高压疏通车对堵塞管段进行疏通，污水外溢已消除。",
            text="您反映的下水道堵塞问题，排水养护单位已用高压疏通车完成疏通，污水外溢已消除。",
        ),
        at,
    )
    await d.review(SD, a, d.ago(days=5))
    await d.callback(
        SD,
        t,
        Satisfaction.UNSATISFIED,
        False,
        "回访中市民反映疏通后两天再次堵塞，污水仍有外溢",
        d.ago(days=4, hours=2),
    )
    await d.redo(SD, t, "问题反复出现，请彻底排查堵点并对破损管段进行修复", d.ago(days=4))


async def _closed(d: _Demo) -> None:
    """A satisfied callback closed the ticket."""
    t = await d.create(
        SD,
        _ticket(
            SHUYANG,
            d.ago(days=7, hours=3),
            category="CM.STREET_LIGHTS",
            title="小区门口路段路灯不亮",
            content=(
                "来电人反映沭阳县十字街道某小区门口路段路灯已经一周不亮，晚上出行很不安全，"
                "请求尽快维修。"
            ),
            address="沭阳县十字街道某小区门口",
            division="321322004",
            name="朱女士",
            phone="18761271113",
        ),
    )
    [a] = await d.dispatch(SD, t, SY_CGJ, at=d.ago(days=7, hours=2))
    await d.sign(SCH, a, d.ago(days=7, hours=1))
    at = d.ago(days=6)
    await d.answer(
        SCH,
        SCL,
        a,
        _reply(
            "李强",
            at,
            communication="工作人员电话联系来电人，告知维修结果并请其晚间查看，来电人确认路灯已亮。",
            handling="路灯维护班组现场排查为线路老化短路，更换电缆20米及损坏灯具3套，当晚恢复照明。",
            text="您反映的路灯不亮问题，经排查为线路老化短路，维护班组已更换线路和灯具，路灯已恢复照明。",
        ),
        at,
    )
    await d.review(SD, a, d.ago(days=5))
    await d.callback(
        SD, t, Satisfaction.SATISFIED, True, "市民表示路灯已修好，对处理结果满意", d.ago(days=4)
    )


async def _archived(d: _Demo) -> None:
    """Closed after a basically satisfied callback, then archived (read-only)."""
    t = await d.create(
        SD,
        _ticket(
            SHUYANG,
            d.ago(days=10),
            category="EN.NOISE",
            title="商铺高音喇叭促销噪音扰民",
            content=(
                "来电人反映沭阳县沭城街道某商业街多家商铺门口摆放音箱高音量循环播放促销广告，"
                "从早到晚不停，严重影响周边居民休息。"
            ),
            address="沭阳县沭城街道某商业街",
            division="321322001",
            name="许先生",
            phone="13585271114",
        ),
    )
    [a] = await d.dispatch(SD, t, SY_CGJ, at=d.ago(days=9, hours=23))
    await d.sign(SCH, a, d.ago(days=9, hours=22))
    at = d.ago(days=8)
    await d.answer(
        SCH,
        SCL,
        a,
        _reply(
            "李强",
            at,
            communication="执法人员当面告知来电人处理情况，来电人表示基本满意。",
            handling=(
                "执法人员对该商业街14家商铺逐户检查，责令撤除门口外放音箱，对其中2家拒不改正的"
                "商铺依法立案处罚，并将该路段纳入日常巡查。"
            ),
            text=(
                "您反映的商铺高音喇叭促销问题，执法人员已对商业街商铺逐户检查，门口外放音箱已"
                "全部撤除，对拒不改正的2家商铺已依法立案处罚。"
            ),
        ),
        at,
    )
    await d.review(SD, a, d.ago(days=7))
    await d.callback(
        SD,
        t,
        Satisfaction.BASICALLY_SATISFIED,
        True,
        "市民表示噪音明显减少，偶有商铺仍在播放",
        d.ago(days=6),
    )
    await d.archive(SD, t, d.ago(days=5))


async def _overdue(d: _Demo) -> None:
    """Overdue: signed, still handled, its due time long past."""
    t = await d.create(
        SD,
        _ticket(
            SHUYANG,
            d.ago(days=9, hours=2),
            channel=Channel.DIGITAL_CITY_MANAGEMENT,
            category="CM.MUCK_TRUCKS",
            title="渣土车沿途抛洒泥土污染路面",
            content=(
                "数字城管信息采集员巡查上报：沭阳县七雄街道某路段多辆渣土车未密闭运输，沿途抛洒"
                "泥土，路面污染严重，雨天湿滑易引发交通事故。"
            ),
            address="沭阳县七雄街道某路段",
            division="321322006",
        ),
    )
    dispatched = d.ago(days=9, hours=1)
    [a] = await d.dispatch(SD, t, SY_CGJ, at=dispatched, due_at=dispatched + timedelta(days=3))
    await d.sign(SCH, a, d.ago(days=9))


# Oldest intake first, so ticket numbers follow the time of receipt.
SCENARIOS: tuple[Callable[[_Demo], Awaitable[None]], ...] = (
    _archived,
    _overdue,
    _redo_after_unsatisfied_callback,
    _closed,
    _callback_due_with_co_unit,
    _sent_back,
    _reply_approved,
    _reply_submitted,
    _hollow_draft,
    _extension_pending,
    _handling_with_co_unit,
    _returned_and_redispatched,
    _return_requested,
    _return_rejected,
    _to_sign_water,
    _new_province_order,
    _to_sign_street_lights,
    _new_gas_smell,
)


async def seed_demo_tickets(
    engine: AsyncEngine, progress: Progress | None = None, *, now: datetime | None = None
) -> int:
    """Create the demo tickets unless some exist; returns how many were created.

    The registry and the demo accounts must be committed first (the use cases run in their own
    transactions). ``now`` (default: the current time) is when the demo is seen from.
    """
    say = progress or (lambda _msg: None)
    now = aware_now(now)
    base = min(now.astimezone(TZ), LATEST_BASE)
    async with seed_once(engine, LOCK_KEY, select(Ticket.id).where(Ticket.demo.is_(True))) as run:
        if not run:
            return 0
        say("demo tickets")
        enforcer = PolicyEnforcer(engine)
        await enforcer.load()
        demo = _Demo(engine, enforcer, base)
        for scenario in SCENARIOS:
            await scenario(demo)
        return demo.created

"""Demo referrals and supervision cases (``--demo``): cross-level referral (§3(2)) and 督办 (§5).

Referral chains, all received by the city centre (3213) and referred to 沭阳县 (the city
member that stands for the county centre 321322):

* waiting for 沭阳县 to sign for it (``shuyang.dispatcher``'s REFERRALS_TO_SIGN);
* signed for by 沭阳县, waiting to be dispatched on (REFERRALS_TO_DISPATCH);
* city → 沭阳县 → 沭城街道 → 沭城街道社区服务办, the unit's reply submitted to the township
  centre (``shucheng.dispatcher``'s REPLIES_TO_REVIEW);
* the same three hops with the reply climbed all the way back: REPLIED at the city, the
  callback due.

Supervision cases, each opened by a supervisor of the centre the target units are members of:

* the city over 市城管局: OPEN, daily online supervision for an unexplained delay, linked to the
  city's hollow-draft demo ticket (``cgj.handler`` has a case to respond to);
* the city over 市水务集团 (lead) and 市住房城乡建设局 (co-unit): a multi-unit case of disputed
  responsibility, linked to the city's water-outage demo ticket;
* 沭阳县 over 沭阳县城管局: responded (RESPONDED), linked to 沭阳县's overdue demo ticket;
* 沭阳县 over 沭阳县住房城乡建设局: responded and closed as resolved, linked to the ticket
  redone after an unsatisfied callback;
* 沭城街道 over 沭城街道社区服务办: a special report (专报, §5(3)6) escalated to 沭阳县, which
  reads it.

Everything goes through the use cases (``domain.tickets.service``, ``domain.referral.service``,
``domain.supervision.service``) as the demo accounts, at simulated times before the current
time capped at :data:`seeds.demo_tickets.LATEST_BASE` (no deadline reaches 2027), as
:mod:`seeds.demo_tickets` does. The cases link demo tickets of that seed by title, when they
exist. Idempotent: when any demo ticket has a lower hop (an assignment with a parent), nothing is
done; a session advisory lock serialises concurrent seeds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.enforcer import PolicyEnforcer
from domain.calendar import TZ
from domain.inputs import aware_now
from domain.referral import service as ref
from domain.supervision import service as sup
from domain.supervision.models import Grounds, SupervisionForm, SupervisionOutcome
from domain.tickets.models import (
    Assignment,
    AssignmentStatus,
    Channel,
    OriginLevel,
    Ticket,
)
from seeds.demo_tickets import LATEST_BASE, _Demo, _reply, _ticket
from seeds.once import seed_once
from seeds.registry import CITY_CODE, Progress

__all__ = ["seed_demo_referrals"]

# pg_advisory_lock key ("YIWANGR"): one demo-referral seed at a time.
LOCK_KEY = 0x59_49_57_41_4E_47_52

CITY = CITY_CODE
CD, CS = "city.dispatcher", "city.supervisor"
SD, SS = "shuyang.dispatcher", "shuyang.supervisor"
TD = "shucheng.dispatcher"  # dispatcher and supervisor of the township centre 沭城街道
QH, QL = "shucheng.sqb.handler", "shucheng.sqb.leader"
SCH = "shuyang.cgj.handler"
SZH = "shuyang.zjj.handler"

SHUYANG_UNIT = "沭阳县"  # a city member, standing for the county centre 321322
SHUCHENG_UNIT = "demo:shuyang-shucheng"  # 沭城街道, a member of 沭阳县 standing for 321322001
SQB = "demo:shucheng-sqb"  # 沭城街道社区服务办, a member of 沭城街道
CGJ = "市城管局"
WATER = "市水务集团"
HOUSING = "市住房城乡建设局"
SY_CGJ = "demo:shuyang-cgj"
SY_ZJJ = "demo:shuyang-zjj"

# Demo tickets of seeds.demo_tickets the supervision cases are about (found by title).
HOLLOW_DRAFT_TITLE = "楼下烧烤店油烟直排"
WATER_OUTAGE_TITLE = "小区突然停水且无任何通知"
OVERDUE_TITLE = "渣土车沿途抛洒泥土污染路面"
REDO_TITLE = "老旧小区下水道堵塞污水外溢"


class _Referrals(_Demo):
    """The demo use cases, plus referral hops and supervision cases."""

    def __init__(self, engine: AsyncEngine, enforcer: PolicyEnforcer, base: datetime) -> None:
        super().__init__(engine, enforcer, base)
        self.cases = 0

    async def refer(
        self, dispatcher: str, hop_id: int, lead: str, *, at: datetime, note: str | None = None
    ) -> int:
        """The centre the hop reached dispatches it on to ``lead``; the new assignment's id."""
        unit = await self.unit(lead)
        await ref.dispatch_referral(
            uow=self.uow,
            actor=await self.who(dispatcher),
            assignment_id=hop_id,
            lead_unit_id=unit,
            note=note,
            now=at,
        )
        async with self.sessions() as s:
            return int(
                (
                    await s.execute(
                        select(Assignment.id).where(
                            Assignment.parent_id == hop_id,
                            Assignment.unit_id == unit,
                            Assignment.status == AssignmentStatus.DISPATCHED,
                        )
                    )
                ).scalar_one()
            )

    async def demo_ticket(self, title: str) -> list[int]:
        """The latest demo ticket of that title, if the demo tickets are there."""
        async with self.sessions() as s:
            found = (
                await s.execute(
                    select(Ticket.id)
                    .where(Ticket.demo.is_(True), Ticket.title == title)
                    .order_by(Ticket.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return [] if found is None else [found]

    async def open_case(
        self,
        supervisor: str,
        targets: Sequence[str],
        *,
        grounds: Sequence[Grounds],
        form: SupervisionForm,
        at: datetime,
        deadline: datetime,
        note: str,
        tickets: Sequence[int] = (),
        lead: str | None = None,
        co: Sequence[str] = (),
    ) -> int:
        case = await sup.open_supervision(
            uow=self.uow,
            actor=await self.who(supervisor),
            target_unit_ids=[await self.unit(u) for u in targets],
            grounds=grounds,
            form=form,
            deadline=deadline,
            ticket_ids=tickets,
            lead_unit_id=await self.unit(lead) if lead else None,
            co_unit_ids=[await self.unit(u) for u in co],
            note=note,
            now=at,
        )
        self.cases += 1
        return case.id

    async def respond_case(
        self, handler: str, case_id: int, unit: str, content: str, *, done: datetime, at: datetime
    ) -> None:
        await sup.respond_supervision(
            uow=self.uow,
            actor=await self.who(handler),
            case_id=case_id,
            unit_id=await self.unit(unit),
            content=content,
            done_at=done,
            now=at,
        )

    async def close_case(
        self,
        supervisor: str,
        case_id: int,
        outcome: SupervisionOutcome,
        note: str,
        at: datetime,
    ) -> None:
        await sup.close_supervision(
            uow=self.uow,
            actor=await self.who(supervisor),
            case_id=case_id,
            outcome=outcome,
            note=note,
            now=at,
        )

    async def escalate_case(self, supervisor: str, case_id: int, note: str, at: datetime) -> None:
        await sup.escalate_supervision(
            uow=self.uow, actor=await self.who(supervisor), case_id=case_id, note=note, now=at
        )


# ---- referral chains -------------------------------------------------------------------------
async def _three_hops(d: _Referrals, t: int, start: datetime) -> tuple[int, int, int]:
    """city → 沭阳县 → 沭城街道 → 社区服务办, each hop signed an hour after it arrives; the
    assignment ids (沭阳县's hop, 沭城街道's hop, the unit's), the unit's not signed yet."""
    [hop1] = await d.dispatch(
        CD, t, SHUYANG_UNIT, at=start, note="属沭阳县辖区事项，请县中心转派属地办理"
    )
    await d.sign(SD, hop1, start + timedelta(hours=1))
    hop2 = await d.refer(
        SD,
        hop1,
        SHUCHENG_UNIT,
        at=start + timedelta(hours=2),
        note="请沭城街道落实属地责任，组织社区核查处置",
    )
    await d.sign(TD, hop2, start + timedelta(hours=3))
    leaf = await d.refer(
        TD, hop2, SQB, at=start + timedelta(hours=4), note="请社区服务办上门核实并限期处置"
    )
    return hop1, hop2, leaf


async def _replied_at_the_city(d: _Referrals) -> None:
    """Three hops down and the reply all the way back up: REPLIED at the city, callback due."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(days=6, hours=4),
            channel=Channel.PROVINCE_ORDER,
            origin=OriginLevel.PROVINCE,
            category="EN.NOISE",
            title="社区广场夜间广场舞音响声音过大",
            content=(
                "省12345转办：来电人反映沭阳县沭城街道某社区广场每晚7点至10点有多支广场舞队"
                "使用大功率音响，声音很大，周边住户家中老人和学生无法正常休息，多次劝说无果，"
                "请求协调解决。"
            ),
            address="沭阳县沭城街道某社区广场",
            division="321322001",
            name="季女士",
            phone="13952771201",
        ),
    )
    _hop1, _hop2, leaf = await _three_hops(d, t, d.ago(days=6, hours=3))
    await d.sign(QH, leaf, d.ago(days=5, hours=22))
    at = d.ago(days=4)
    await d.answer(
        QH,
        QL,
        leaf,
        _reply(
            "孙丽",
            at,
            communication=(
                "社区工作人员上门与来电人面谈，通报与广场舞队协商达成的活动时间和音量约定，"
                "来电人表示认可。"
            ),
            handling=(
                "社区服务办召集三支广场舞队负责人协商，约定活动时间为每晚7点至8点半，统一使用"
                "限音音箱并调低音量，在广场入口张贴文明健身公约，由社区网格员每晚巡查。"
            ),
            text=(
                "您反映的广场舞噪音问题，社区已与各广场舞队约定每晚8点半前结束活动，统一使用"
                "限音音箱，并由网格员每晚巡查落实，周边噪音已明显降低。"
            ),
            phone="0527-83512345",
        ),
        at,
    )
    await d.review(TD, leaf, d.ago(days=3))  # 沭城街道 accepts: its hop's reply goes up
    hop2 = await _parent(d, leaf)
    await d.review(SD, hop2, d.ago(days=2))  # 沭阳县 accepts: its hop's reply goes up
    await d.review(CD, await _parent(d, hop2), d.ago(days=1))  # the city: REPLIED


async def _reply_at_the_township(d: _Referrals) -> None:
    """Three hops down; the unit's reply waits for the township centre's review."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(days=3, hours=5),
            category="HP.PROPERTY_SERVICE",
            title="老旧小区楼道堆物且有电动车飞线充电",
            content=(
                "来电人反映沭阳县沭城街道某老旧小区无物业管理，多个单元楼道堆放杂物，还有住户"
                "从楼上拉电线给电动车充电，存在严重火灾隐患，请求尽快清理整治。"
            ),
            address="沭阳县沭城街道某老旧小区",
            division="321322001",
            name="沈先生",
            phone="13861271202",
        ),
    )
    _hop1, _hop2, leaf = await _three_hops(d, t, d.ago(days=3, hours=4))
    await d.sign(QH, leaf, d.ago(days=2, hours=22))
    at = d.ago(hours=6)
    await d.answer(
        QH,
        QL,
        leaf,
        _reply(
            "孙丽",
            at,
            communication="社区工作人员电话联系来电人，告知楼道清理和充电整治结果，来电人表示满意。",
            handling=(
                "社区服务办组织网格员和志愿者逐栋清理楼道堆物共12处，拆除飞线充电线路5处，"
                "在小区东门增设电动车集中充电桩20个，并向住户发放消防安全告知书。"
            ),
            text=(
                "您反映的楼道堆物和飞线充电问题，社区已清理楼道堆物12处、拆除飞线5处，并在"
                "小区东门增设集中充电桩20个，后续由网格员定期巡查。"
            ),
            phone="0527-83512345",
        ),
        at,
    )


async def _signed_to_dispatch_on(d: _Referrals) -> None:
    """Referred to 沭阳县 and signed for: waiting for the county to dispatch it on."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(hours=20),
            category="MR.FOOD_SAFETY",
            title="学校周边流动摊贩售卖无标签食品",
            content=(
                "来电人反映沭阳县城某小学放学时段校门口有多个流动摊贩售卖散装辣条、饮料等无"
                "标签食品，学生围聚购买，担心食品安全问题，请求相关部门查处。"
            ),
            address="沭阳县城某小学校门口",
            division="321322",
            name="潘女士",
            phone="15050271203",
        ),
    )
    [hop] = await d.dispatch(
        CD, t, SHUYANG_UNIT, at=d.ago(hours=19), note="属沭阳县辖区事项，请县中心转派办理"
    )
    await d.sign(SD, hop, d.ago(hours=3))


async def _referred_to_sign(d: _Referrals) -> None:
    """Referred to 沭阳县, not signed for yet."""
    t = await d.create(
        CD,
        _ticket(
            CITY,
            d.ago(hours=2, minutes=30),
            category="RT.ROAD_DAMAGE",
            title="乡道桥面护栏缺失且桥面破损",
            content=(
                "来电人反映沭阳县某乡道跨河小桥一侧护栏缺失约10米，桥面多处破损露筋，夜间无照明，"
                "过往车辆和行人存在坠河危险，请求尽快修复并设置警示标志。"
            ),
            address="沭阳县某乡道跨河小桥",
            division="321322",
            name="马先生",
            phone="18052771204",
        ),
    )
    await d.dispatch(
        CD, t, SHUYANG_UNIT, at=d.ago(hours=2), note="属沭阳县管养道路，请县中心转派交通部门"
    )


async def _parent(d: _Referrals, assignment_id: int) -> int:
    async with d.sessions() as s:
        parent = (
            await s.execute(select(Assignment.parent_id).where(Assignment.id == assignment_id))
        ).scalar_one()
    assert parent is not None
    return int(parent)


# ---- supervision cases -----------------------------------------------------------------------
async def _city_over_cgj(d: _Referrals) -> None:
    """OPEN: the city supervises 市城管局 over a complaint left without news for days."""
    await d.open_case(
        CS,
        [CGJ],
        grounds=[Grounds.LATE_WITHOUT_REASON],
        form=SupervisionForm.DAILY_ONLINE,
        at=d.ago(hours=2),
        deadline=d.base + timedelta(days=2),
        tickets=await d.demo_ticket(HOLLOW_DRAFT_TITLE),
        note="烧烤店油烟直排工单签收已三天，来电人多次催问，单位未反馈办理进展，请说明原因并限期办结。",
    )


async def _city_multi_unit(d: _Referrals) -> None:
    """OPEN, several units: 市水务集团 leads, 市住房城乡建设局 is co-unit (§5 preamble)."""
    await d.open_case(
        CS,
        [],
        lead=WATER,
        co=[HOUSING],
        grounds=[Grounds.DISPUTED_RESPONSIBILITY],
        form=SupervisionForm.ONSITE_COORDINATION,
        at=d.ago(minutes=30),
        deadline=d.base + timedelta(days=3),
        tickets=await d.demo_ticket(WATER_OUTAGE_TITLE),
        note=(
            "该小区三个月内第三次无通知停水，供水单位与物业主管部门就二次供水设施管理职责"
            "相互推诿。由市水务集团牵头、市住房城乡建设局协办，现场协调明确管理责任并限期整改。"
        ),
    )


async def _county_responded(d: _Referrals) -> None:
    """RESPONDED: 沭阳县 supervises 沭阳县城管局 over an overdue ticket; the unit answered."""
    case = await d.open_case(
        SS,
        [SY_CGJ],
        grounds=[Grounds.LATE_WITHOUT_REASON],
        form=SupervisionForm.DAILY_ONLINE,
        at=d.ago(days=3),
        deadline=d.base + timedelta(days=1),
        tickets=await d.demo_ticket(OVERDUE_TITLE),
        note="渣土车抛洒工单已超过办理时限，未申请延期，请说明原因并报送整改情况。",
    )
    await d.respond_case(
        SCH,
        case,
        SY_CGJ,
        "已约谈三家渣土运输企业，对两辆未密闭运输车辆依法立案处罚，七雄街道路段已冲洗干净；"
        "超期原因为执法车辆调配不及时，已调整夜间巡查排班，答复将于两日内报送。",
        done=d.ago(days=1, hours=4),
        at=d.ago(days=1, hours=2),
    )


async def _county_closed(d: _Referrals) -> None:
    """CLOSED (resolved): 沭阳县 supervised 沭阳县住房城乡建设局 over a blockage that returned."""
    case = await d.open_case(
        SS,
        [SY_ZJJ],
        grounds=[Grounds.SHIRKING_OR_NOT_IMPLEMENTING],
        form=SupervisionForm.ONSITE_COORDINATION,
        at=d.ago(days=4, hours=1),
        deadline=d.ago(days=1),
        tickets=await d.demo_ticket(REDO_TITLE),
        note="下水道疏通后两天再次堵塞，回访不满意，存在敷衍处置问题，请彻底排查并修复破损管段。",
    )
    await d.respond_case(
        SZH,
        case,
        SY_ZJJ,
        "已用管道机器人排查全部管段，发现2号楼前15米管段塌陷，已开挖更换并恢复路面，"
        "连续三天复查排水通畅，来电人确认污水不再外溢。",
        done=d.ago(days=2, hours=6),
        at=d.ago(days=2, hours=4),
    )
    await d.close_case(
        SS,
        case,
        SupervisionOutcome.RESOLVED,
        "现场复核管段已修复、排水通畅，督办事项办结。",
        d.ago(days=1, hours=20),
    )


async def _township_special_report(d: _Referrals) -> None:
    """Escalated: 沭城街道 supervises its 社区服务办 and reports the case to 沭阳县 (专报)."""
    case = await d.open_case(
        TD,
        [SQB],
        grounds=[Grounds.SHIRKING_OR_NOT_IMPLEMENTING],
        form=SupervisionForm.SPECIAL_REPORT,
        at=d.ago(days=2, hours=3),
        deadline=d.base + timedelta(days=2),
        note=(
            "某老旧小区加装电梯事项群众反复来电，社区服务办以涉及县级部门审批为由迟迟未组织"
            "业主协商，请限期组织协商并报送进展。"
        ),
    )
    await d.escalate_case(
        TD,
        case,
        "加装电梯涉及县住建局审批和补助资金拨付，街道层面协调未果，专报县中心协调督办。",
        d.ago(days=1, hours=5),
    )


# Oldest intake first, so the new tickets' numbers follow their time of receipt.
SCENARIOS: tuple[Callable[[_Referrals], Awaitable[None]], ...] = (
    _replied_at_the_city,
    _reply_at_the_township,
    _signed_to_dispatch_on,
    _referred_to_sign,
    _county_closed,
    _county_responded,
    _township_special_report,
    _city_over_cgj,
    _city_multi_unit,
)


async def seed_demo_referrals(
    engine: AsyncEngine, progress: Progress | None = None, *, now: datetime | None = None
) -> int:
    """Create the demo referrals and supervision cases unless a demo ticket has a lower hop;
    returns how many tickets and cases were created.

    The registry, the demo accounts and (for the cases' links) the demo tickets must be
    committed first. ``now`` (default: the current time) is when the demo is seen from.
    """
    say = progress or (lambda _msg: None)
    now = aware_now(now)
    base = min(now.astimezone(TZ), LATEST_BASE)
    done = (
        select(Assignment.id)
        .join(Ticket, Ticket.id == Assignment.ticket_id)
        .where(Ticket.demo.is_(True), Assignment.parent_id.is_not(None))
    )
    async with seed_once(engine, LOCK_KEY, done) as run:
        if not run:
            return 0
        say("demo referrals and supervision cases")
        enforcer = PolicyEnforcer(engine)
        await enforcer.load()
        demo = _Referrals(engine, enforcer, base)
        for scenario in SCENARIOS:
            await scenario(demo)
        return demo.created + demo.cases

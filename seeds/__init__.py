"""Seed data: the registry from the regulation's appendix, Suqian's divisions, default policies,
and (``--demo``) demo accounts, tickets, a meeting, referrals and supervision cases. Everything
is idempotent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from seeds.registry import Progress, seed_registry


async def run_seed(
    engine: AsyncEngine, *, demo: bool = False, progress: Progress | None = None
) -> dict[str, int]:
    """Seed the registry in one transaction; returns the counts of what was added.

    With ``demo``, the demo tickets, meeting, referrals and supervision cases follow: they go
    through the use cases, each in its own transaction, so they need the registry and the demo
    accounts committed first.
    """
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        added = await seed_registry(session, progress)
        from seeds.tickets import seed_ticket_reference

        added.update(await seed_ticket_reference(session, progress))
        from seeds.meetings import seed_meeting_defaults

        added.update(await seed_meeting_defaults(session, progress))
        from seeds.assessment import seed_scoring_scheme

        added.update(await seed_scoring_scheme(session, progress))
        if demo:
            from seeds.demo import seed_demo

            for k, v in (await seed_demo(session, progress)).items():
                added[f"demo_{k}"] = v
    if demo:
        from seeds.demo_tickets import seed_demo_tickets

        added["demo_tickets"] = await seed_demo_tickets(engine, progress)
        from seeds.demo_meetings import seed_demo_meetings

        added["demo_meetings"] = await seed_demo_meetings(engine, progress)
        from seeds.demo_referrals import seed_demo_referrals

        added["demo_referrals"] = await seed_demo_referrals(engine, progress)
    return added


__all__ = ["run_seed"]

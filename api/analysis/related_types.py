"""GraphQL types of repeat-complaint links (§4(5)6): ``Ticket.related`` and its reasons."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.tickets.types import Ticket
from domain.analysis import linking as al
from domain.analysis import models as am

LinkReason = strawberry.enum(
    am.LinkReason,
    description="Why two tickets are on the same matter: SAME_PHONE (same complainant phone "
    "within 180 days; never for anonymous tickets), SAME_ADDRESS_CATEGORY (same normalised "
    "address and category within 90 days), SIMILAR_TEXT (character-bigram similarity of title "
    "and content ≥ 0.8 within 90 days), MANUAL (linked by a dispatcher).",
)


@strawberry.type(description="One reason two tickets are related, and who established it.")
class TicketLinkReason:
    reason: LinkReason  # type: ignore[valid-type]
    score: float = strawberry.field(
        description="Text similarity (0–1) for SIMILAR_TEXT; 1 for the other reasons."
    )
    linked_by: str = strawberry.field(
        description="system:related for the automatic rules, else the dispatcher (user:…)."
    )
    linked_at: datetime
    note: str | None

    @classmethod
    def of(cls, link: am.TicketLink) -> TicketLinkReason:
        return cls(
            reason=link.reason,
            score=link.score,
            linked_by=link.created_by,
            linked_at=link.created_at,
            note=link.note,
        )


@strawberry.type(
    description="A ticket on the same matter as this one (相关工单), with the reasons."
)
class RelatedTicket:
    ticket: Ticket
    reasons: list[TicketLinkReason]
    earlier: bool = strawberry.field(
        description="Received before this ticket: this ticket repeats it."
    )

    @classmethod
    def of(cls, rel: al.Relation, *, base_received_at: datetime, base_id: int) -> RelatedTicket:
        t = rel.ticket
        return cls(
            ticket=Ticket.of(t),
            reasons=[TicketLinkReason.of(link) for link in rel.links],
            earlier=(t.received_at, t.id) < (base_received_at, base_id),
        )

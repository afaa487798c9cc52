"""What every helpdesk page shows: the left menu of queues with their live counts."""

from dataclasses import dataclass

from helpdesk import queues
from helpdesk.models import User
from helpdesk.queues import QUEUES, Queue, queue_counts


def count_label(count: int, cap: int | None = None) -> str:
    """1234 → "1,234"; past the cap (`queues.COUNT_CAP` unless told) → "10,000+"."""
    cap = queues.COUNT_CAP if cap is None else cap
    return f"{cap:,}+" if count > cap else f"{count:,}"


@dataclass(frozen=True)
class NavItem:
    queue: Queue
    count: int
    active: bool
    cap: int

    @property
    def label(self) -> str:
        return count_label(self.count, self.cap)


def queue_nav(user: User, current: str | None = None, *, paged: bool = False) -> list[NavItem]:
    """The queues with their counts — two queries (the user's teams, then every count).
    Each counts to `queues.MENU_COUNT_CAP`; with `paged` (the queue page, which pages
    through `current` with the menu's count), `current` counts to `queues.COUNT_CAP`."""
    caps = queues.menu_caps(current if paged else None)
    counts = queue_counts(user=user, cap=caps)
    return [
        NavItem(q, counts[slug], slug == current, cap)
        for (slug, q), cap in zip(QUEUES.items(), caps, strict=True)
    ]

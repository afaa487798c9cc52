"""What the routing engine keeps: every decision with its reasons, the round-robin turns,
capacity limits, and the tickets waiting for an agent to become available."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.models import AssignMode, Distribution
from helpdesk.models import Channel, Team, Ticket, TicketType


class RoutingDecision(models.Model):
    """One automatic decision about one ticket, with everything needed to explain it."""

    class Outcome(models.TextChoices):
        ASSIGNED = "assigned", gettext_lazy("Assigned to a user")
        TEAM = "team", gettext_lazy("Assigned to a team")
        UNASSIGNED = "unassigned", gettext_lazy("Left unassigned")
        SKIPPED = "skipped", gettext_lazy("Not routed")

    # No index of its own: decision_ticket_idx (ticket, created_at) serves every lookup by
    # ticket and the cascade, and a decision's insert keeps one index fewer.
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="routing_decisions", db_index=False
    )
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=12, choices=Outcome)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mode = models.CharField(max_length=16, choices=AssignMode, blank=True)
    strategy = models.CharField(max_length=16, choices=Distribution, blank=True)
    summary = models.TextField(help_text=gettext_lazy("The decision in plain words."))
    settings_snapshot = models.JSONField(default=dict)
    # Every candidate and every exclusion is kept, packed in columns (`pack_candidates`,
    # `pack_excluded`): a decision over 500 agents writes a few kilobytes, each reason's words
    # once. Read them as rows with `candidate_rows` and `excluded_rows`.
    candidates = models.JSONField(
        default=list, help_text=gettext_lazy("Eligible users with their loads.")
    )
    excluded = models.JSONField(
        default=list, help_text=gettext_lazy("Users left out, each with the reason.")
    )
    required_skills = models.JSONField(default=list)
    duration_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    owner_emailed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy(
            "Contact-owner routing of a form: when the offline owner was emailed."
        ),
    )
    owner_email_claimed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("When a worker took the owner's email to send it."),
    )

    # What only the decision's details show (`routing.views.decision_details`): the columns
    # that grow with the pool, left unread where a decision is only summed up.
    DETAIL_FIELDS = ("settings_snapshot", "candidates", "excluded", "required_skills")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["ticket", "-created_at"], name="decision_ticket_idx"),
            models.Index(fields=["-created_at"], name="decision_created_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id}: {self.summary[:80]}"

    @staticmethod
    def pack_candidates(candidates) -> dict | list:
        """Candidates (with `user_id`, `name`, `load`) as columns; [] when there are none."""
        if not candidates:
            return []
        return {
            "user_ids": [c.user_id for c in candidates],
            "names": [c.name for c in candidates],
            "loads": [c.load for c in candidates],
        }

    @staticmethod
    def pack_excluded(excluded) -> dict | list:
        """Exclusions (with `user_id`, `name`, `code`, `reason`, `detail`) as columns: each
        distinct (code, reason) once, an index into them per person, and the details that
        say more by position; [] when nobody was left out."""
        if not excluded:
            return []
        reasons: dict[tuple[str, str], int] = {}
        reason_of, details = [], {}
        for i, e in enumerate(excluded):
            reason_of.append(reasons.setdefault((e.code, str(e.reason)), len(reasons)))
            if e.detail:
                details[str(i)] = str(e.detail)
        return {
            "user_ids": [e.user_id for e in excluded],
            "names": [e.name for e in excluded],
            "reasons": list(reasons),
            "reason_of": reason_of,
            "details": details,
        }

    @cached_property
    def candidate_rows(self) -> list[dict]:
        """The candidates as rows: `user_id`, `name`, `load`."""
        packed = self.candidates
        if isinstance(packed, list):  # nobody, or a decision stored before packing
            return packed
        return [
            {"user_id": u, "name": n, "load": load}
            for u, n, load in zip(packed["user_ids"], packed["names"], packed["loads"], strict=True)
        ]

    @cached_property
    def excluded_rows(self) -> list[dict]:
        """Those left out as rows: `user_id`, `name`, `code`, `reason` and, when it says
        more, `detail` — in the decision's order."""
        packed = self.excluded
        if isinstance(packed, list):  # nobody, or a decision stored before packing
            return packed
        rows = []
        details = packed["details"]
        for i, (user_id, name, r) in enumerate(
            zip(packed["user_ids"], packed["names"], packed["reason_of"], strict=True)
        ):
            code, reason = packed["reasons"][r]
            row = {"user_id": user_id, "name": name, "code": code, "reason": reason}
            if str(i) in details:
                row["detail"] = details[str(i)]
            rows.append(row)
        return rows


class RoundRobinTurn(models.Model):
    """When a user last received a ticket by round robin on a channel.

    Round robin picks the candidate whose turn is oldest (never = oldest of all), so the
    order survives restarts, membership changes and many workers; someone back from being
    away gets one turn, not a burst.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_assigned_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "user"], name="round_robin_turn_once"),
        ]

    def __str__(self) -> str:
        return gettext("%(user)s last at %(at)s on %(channel)s") % {
            "user": self.user,
            "at": f"{self.last_assigned_at:%Y-%m-%d %H:%M:%S}",
            "channel": self.channel,
        }


class CapacityLimit(models.Model):
    """At most `max_open` open tickets of a type for a user; without a user, the account
    default for everyone who has no limit of their own. Manual assignment may exceed it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="capacity_limits",
        help_text=gettext_lazy("Empty: the account default."),
    )
    ticket_type = models.CharField(max_length=16, choices=TicketType)
    max_open = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "ticket_type"], name="capacity_once_per_user_type"
            ),
            models.UniqueConstraint(
                fields=["ticket_type"],
                condition=Q(user__isnull=True),
                name="capacity_default_once_per_type",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(who)s: at most %(max_open)s open %(type)s tickets") % {
            "who": self.user or gettext("Account default"),
            "max_open": self.max_open,
            "type": self.get_ticket_type_display(),
        }


class WaitingTicket(models.Model):
    """A ticket left unassigned because nobody was available, on a channel whose automation
    routes again when an agent becomes available."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["since", "id"]

    def __str__(self) -> str:
        return gettext("#%(ticket)s waiting since %(since)s") % {
            "ticket": self.ticket_id,
            "since": f"{self.since:%Y-%m-%d %H:%M}",
        }

"""`manage.py retry_inbound --ids 4 7 9` or `--all-failed`: set failed (and quarantined)
inbound events back to received and process the email ones here, now; others are handed
to their workers."""

from django.core.management.base import BaseCommand, CommandError

from helpdesk.models import InboundEvent
from helpdesk.services.intake import process_inbound, retry_failed_inbound
from mailroom.inbound import KIND, handle_email


class Command(BaseCommand):
    help = "Retry failed or quarantined inbound events."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--ids", type=int, nargs="+", help="event ids")
        group.add_argument("--all-failed", action="store_true", help="every failed event")

    def handle(self, *args, ids=None, all_failed=False, **options):
        if all_failed:
            ids = list(
                InboundEvent.objects.filter(status=InboundEvent.Status.FAILED).values_list(
                    "pk", flat=True
                )
            )
        retried = retry_failed_inbound(ids)
        if ids and not retried:
            raise CommandError("None of these events is failed or quarantined.")
        kinds = dict(InboundEvent.objects.filter(pk__in=retried).values_list("pk", "kind"))
        for event_id in retried:
            if kinds.get(event_id) != KIND:
                self.stdout.write(f"event {event_id}: handed to its worker")
                continue
            event = process_inbound(event_id, handle_email)
            if event is None:
                self.stdout.write(f"event {event_id}: taken by a worker meanwhile")
            else:
                self.stdout.write(f"event {event_id}: {event.status} {event.error}".rstrip())
        self.stdout.write(f"{len(retried)} events retried")

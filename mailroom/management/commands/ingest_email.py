"""`manage.py ingest_email --channel ID` — one raw message from stdin (an MTA pipe alias:
`support: "|/srv/helpdesk/.venv/bin/python /srv/helpdesk/manage.py ingest_email --channel 3"`),
or `--maildir DIR`: every message of the Maildir's new/ and cur/, each moved to cur/ with
the seen flag once it is stored. Each mail is stored raw first, then processed here.

The exit status is what an MTA pipe needs (sysexits.h):
- 0 once the mail is stored, whatever processing made of it (a failure is kept on the event
  for the admin to retry; an event left received is processed by the intake sweep): an MTA
  must not bounce a mail we have;
- 75 (EX_TEMPFAIL) when it could not be stored — the database unavailable, or any other
  unexpected error while storing: the MTA keeps the mail and delivers it again later;
- 64 (EX_USAGE) for a command line that cannot work (no such channel, not a Maildir); 2 for
  arguments argparse refuses.
"""

import logging
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from helpdesk.models import Channel
from helpdesk.services.intake import process_inbound
from mailroom.inbound import handle_email, store_email

log = logging.getLogger(__name__)

EX_USAGE = 64
EX_TEMPFAIL = 75


def _seen_name(path: Path) -> str:
    base, _, info = path.name.partition(":")
    flags = set(info[2:]) if info.startswith("2,") else set()
    return f"{base}:2,{''.join(sorted(flags | {'S'}))}"


class Command(BaseCommand):
    help = "Store and process inbound mail from stdin or a Maildir."

    def add_arguments(self, parser):
        parser.add_argument("--channel", type=int, required=True, help="team-email channel id")
        parser.add_argument("--maildir", type=Path, help="a Maildir (with new/ and cur/)")

    def handle(self, *args, channel: int, maildir: Path | None, **options):
        try:
            self._run(channel, maildir)
        except CommandError:
            raise
        except Exception as exc:  # the database unavailable, or anything unforeseen
            log.exception("ingest_email: the mail was not stored")
            raise CommandError(
                f"The mail was not stored ({type(exc).__name__}: {exc}); "
                "the mail server should deliver it again later.",
                returncode=EX_TEMPFAIL,
            ) from exc

    def _run(self, channel: int, maildir: Path | None) -> None:
        found = Channel.objects.filter(pk=channel, kind=Channel.Kind.TEAM_EMAIL).first()
        if found is None:
            raise CommandError(f"No team-email channel with id {channel}.", returncode=EX_USAGE)
        if maildir is None:
            self._ingest(found, sys.stdin.buffer.read(), "stdin")
            return
        if not (maildir / "new").is_dir() or not (maildir / "cur").is_dir():
            raise CommandError(
                f"{maildir} is not a Maildir (no new/ and cur/).", returncode=EX_USAGE
            )
        # Listed before anything moves, so a mail moved from new/ is not read twice.
        paths = [
            path
            for folder in ("new", "cur")
            for path in sorted((maildir / folder).iterdir())
            if path.is_file()
        ]
        for path in paths:
            self._ingest(found, path.read_bytes(), path.name)
            # Only once it is stored: a crash before this line re-reads it (harmlessly).
            target = maildir / "cur" / _seen_name(path)
            if target != path:
                path.rename(target)
        self.stdout.write(f"{len(paths)} messages read from {maildir}")

    def _ingest(self, channel: Channel, raw: bytes, label: str) -> None:
        if not raw.strip():
            self.stderr.write(f"{label}: empty input, nothing stored")
            return
        event, created = store_email(channel=channel, raw=raw)
        processed = None
        if created:
            try:
                processed = process_inbound(event.pk, handle_email)
            except Exception as exc:  # stored: the intake sweep processes it later
                log.exception("ingest_email: event %s stored, not processed", event.pk)
                self.stderr.write(
                    f"{label}: event {event.pk} stored, not processed yet ({type(exc).__name__})"
                )
        event = processed or event
        note = "" if created else " (already stored: a redelivery)"
        self.stdout.write(f"{label}: event {event.pk} {event.status}{note} {event.error}".rstrip())

"""The translation catalogues (`helpdesk.translations`).

    manage.py translations check [--only PREFIX ...] [--with FILE.po ...]
    manage.py translations update [--with FILE.po ...]
    manage.py translations extract --only PREFIX ... -o FILE.po

`check` lists every message missing, untranslated, fuzzy or with different placeholders
(exit 1 if any); `update` rewrites locale/<lang>/LC_MESSAGES/django.po from the source and
compiles the .mo; `extract` writes part of the messages to a file to translate. Needs GNU
gettext's xgettext (Debian: gettext).
"""

from pathlib import Path

import polib
from django.core.management.base import BaseCommand, CommandError

from helpdesk import translations


class Command(BaseCommand):
    help = "Check, update or extract the translation catalogues."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["check", "update", "extract"])
        parser.add_argument("--language", action="append", dest="languages")
        parser.add_argument("--only", action="append", default=[], metavar="PREFIX")
        parser.add_argument("--with", action="append", default=[], dest="extra", metavar="PO")
        parser.add_argument("-o", "--output", metavar="PO")

    def handle(self, action, languages, only, extra, output, **options):
        languages = languages or translations.languages()
        sources = [polib.pofile(path, wrapwidth=0) for path in extra]
        if action == "extract":
            if not output or len(languages) != 1:
                raise CommandError("extract needs -o FILE and one --language (or one in LANGUAGES)")
            count = translations.write_part(languages[0], only, Path(output))
            self.stdout.write(f"{count} messages in {output}")
            return
        failed = False
        for language in languages:
            if action == "update":
                catalogue = translations.update(language, sources)
                left = [e for e in catalogue if not translations.is_translated(e)]
                self.stdout.write(
                    f"{language}: {len(catalogue)} messages, {len(left)} untranslated "
                    f"({translations.po_path(language)})"
                )
                continue
            problems = translations.check(language, only, sources).problems
            for line in problems:
                self.stdout.write(f"{language}: {line}")
            failed = failed or bool(problems)
            if not problems:
                self.stdout.write(f"{language}: complete")
        if failed:
            raise CommandError("the translations are not complete")

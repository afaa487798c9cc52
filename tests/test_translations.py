"""The Norwegian translation: complete, applied per user and per browser, dates in its form.

`test_catalogue_is_complete` is what makes `make test` fail on a message that is missing,
untranslated or fuzzy in locale/nb (issue 13, Language): it extracts the messages from a copy
of the source with Django's makemessages and compares them with the committed catalogue.
"""

from datetime import UTC, datetime

import polib
import pytest
from django.urls import reverse
from django.utils import formats, translation

from helpdesk import translations

pytestmark = pytest.mark.django_db


def test_catalogue_is_complete():
    report = translations.check("nb")
    assert report.problems == [], "\n".join(
        [
            *report.problems,
            "Fix: translate in locale/nb/LC_MESSAGES/django.po, then run "
            "`manage.py translations update` (README, Translations).",
        ]
    )


def test_catalogue_has_the_product_in_it():
    """Not an empty catalogue that trivially has no problems."""
    catalogue = polib.pofile(str(translations.po_path("nb")))
    assert len(catalogue) > 500
    with translation.override("nb"):
        assert translation.gettext("Unassigned") != "Unassigned"


def test_check_catches_a_translation_with_other_placeholders():
    good = polib.POEntry(msgid="Assigned to %(name)s.", msgstr="Tildelt %(name)s.")
    bad = polib.POEntry(msgid="Assigned to %(name)s.", msgstr="Tildelt %(navn)s.")
    plural = polib.POEntry(
        msgid="%(count)s ticket",
        msgid_plural="%(count)s tickets",
        msgstr_plural={0: "%(count)s sak", 1: "saker"},
    )
    assert not translations.placeholder_mismatch(good)
    assert translations.placeholder_mismatch(bad)
    assert translations.placeholder_mismatch(plural)


def test_check_counts_fuzzy_and_empty_as_untranslated():
    empty = polib.POEntry(msgid="Save", msgstr="")
    fuzzy = polib.POEntry(msgid="Save", msgstr="Lagre", flags=["fuzzy"])
    assert not translations.is_translated(empty)
    assert translations.known_translations([empty, fuzzy]) == {}


def test_a_compiled_catalogue_that_lags_its_source_is_reported(settings, tmp_path):
    settings.LOCALE_PATHS = [tmp_path]
    po = translations.po_path("nb")
    po.parent.mkdir(parents=True)
    catalogue = translations.new_catalogue("nb", [polib.POEntry(msgid="Save", msgstr="Lagre")])
    catalogue.save(str(po))
    catalogue.save_as_mofile(str(po.with_suffix(".mo")))
    assert translations.mo_matches("nb")
    catalogue.append(polib.POEntry(msgid="Close", msgstr="Lukk"))
    catalogue.save(str(po))
    assert not translations.mo_matches("nb")


def _nb(text: str) -> str:
    with translation.override("nb"):
        translated = translation.gettext(text)
    assert translated != text, f"{text!r} has no Norwegian translation"
    return translated


def test_the_browser_language_is_the_default(client, agent):
    client.force_login(agent)
    page = client.get(reverse("home"), follow=True, headers={"accept-language": "nb-NO,nb;q=0.9"})
    html = page.content.decode()
    assert '<html lang="nb"' in html
    assert _nb("Unassigned") in html
    english = client.get(reverse("home"), follow=True, headers={"accept-language": "en-GB"})
    assert '<html lang="en"' in english.content.decode()


def test_the_users_choice_wins_over_the_browser(client, agent):
    client.force_login(agent)
    answer = client.post(reverse("people:language"), {"language": "nb"})
    assert answer.status_code == 302
    agent.refresh_from_db()
    assert agent.language == "nb"
    page = client.get(reverse("home"), follow=True, headers={"accept-language": "en-US"})
    assert '<html lang="nb"' in page.content.decode()
    client.post(reverse("people:language"), {"language": ""})
    agent.refresh_from_db()
    assert agent.language == ""
    page = client.get(reverse("home"), follow=True, headers={"accept-language": "en-US"})
    assert '<html lang="en"' in page.content.decode()


def test_an_unknown_language_is_refused_with_a_400(client, agent):
    client.force_login(agent)
    answer = client.post(reverse("people:language"), {"language": "xx"})
    assert answer.status_code == 400
    agent.refresh_from_db()
    assert agent.language == ""


def test_dates_follow_the_language():
    moment = datetime(2026, 12, 5, 14, 2, tzinfo=UTC)
    with translation.override("en"):
        assert formats.date_format(moment, "DATETIME_FORMAT") == "5 Dec 2026, 14:02"
    with translation.override("nb"):
        assert formats.date_format(moment, "DATETIME_FORMAT") == "5. des 2026 14:02"
        assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == "5. des 14:02"

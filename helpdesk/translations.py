"""The translation catalogues: what the source asks for against what `locale/` holds.

The messages are extracted with Django's `makemessages` (GNU xgettext) from a throw-away copy
of the source tree, so extracting never rewrites the checkout; `polib` compares, merges and
compiles. `manage.py translations` is the command around this module, and
`tests/test_translations.py` fails `make test` on any message that is missing, untranslated,
fuzzy, left over, or whose placeholders differ from the English, and on a `.mo` that is older
than its `.po`.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polib
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
DOMAIN = "django"
# Not part of the product's text: tests, docs, demo data, tooling, build output.
SKIP = {
    ".git",
    ".venv",
    ".ci",
    "node_modules",
    "staticfiles",
    "media",
    "tests",
    "docs",
    "demo",
    "bin",
    "locale",
}
EXTENSIONS = "html,txt,py"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]|%[sdf]")
HEADER = {
    "Project-Id-Version": "helpdesk",
    "Language": "",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=2; plural=(n != 1);",
}


def languages() -> list[str]:
    """The languages with a catalogue: all of LANGUAGES but the source language."""
    return [code for code, _name in settings.LANGUAGES if code != "en"]


def po_path(language: str) -> Path:
    return Path(settings.LOCALE_PATHS[0]) / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def key(entry: polib.POEntry) -> tuple[str, str, str]:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def is_translated(entry: polib.POEntry) -> bool:
    if entry.msgid_plural:
        forms = entry.msgstr_plural or {}
        return len(forms) >= 2 and all(forms.get(i) for i in range(len(forms)))
    return bool(entry.msgstr)


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def placeholder_mismatch(entry: polib.POEntry) -> bool:
    """A translation whose %(name)s placeholders differ from the English would raise (a
    missing key) or drop a value at run time."""
    wanted = _placeholders(entry.msgid)
    if entry.msgid_plural:
        plural_wanted = _placeholders(entry.msgid_plural)
        return any(
            _placeholders(text) not in (wanted, plural_wanted)
            for text in entry.msgstr_plural.values()
        )
    return _placeholders(entry.msgstr) != wanted


def extract(language: str) -> polib.POFile:
    """Every message the source asks for, untranslated, with where it is used."""
    if shutil.which("xgettext") is None:
        raise RuntimeError(
            "xgettext is not installed: install GNU gettext (Debian: apt-get install gettext)."
        )
    with tempfile.TemporaryDirectory(prefix="hd-messages-") as tmp:
        root = Path(tmp)
        for item in BASE_DIR.iterdir():
            if item.name in SKIP or item.name.startswith("."):
                continue
            if item.is_dir():
                shutil.copytree(
                    item, root / item.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            elif item.suffix == ".py":
                shutil.copy2(item, root / item.name)
        (root / "locale").mkdir()
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "makemessages",
                "--locale",
                language,
                "--extension",
                EXTENSIONS,
                "--no-wrap",
                "--verbosity",
                "0",
            ],
            cwd=root,
            check=True,
        )
        return polib.pofile(str(root / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"))


def only(catalogue: polib.POFile, prefixes: list[str]) -> list[polib.POEntry]:
    if not prefixes:
        return list(catalogue)
    return [
        entry
        for entry in catalogue
        if any(path.startswith(tuple(prefixes)) for path, _line in entry.occurrences)
    ]


def known_translations(*sources: polib.POFile) -> dict:
    """(context, English, plural) → the translated entry; later sources win."""
    known = {}
    for source in sources:
        for entry in source:
            if not entry.obsolete and is_translated(entry) and "fuzzy" not in entry.flags:
                known[key(entry)] = entry
    return known


def fill(entries: list[polib.POEntry], known: dict) -> None:
    for entry in entries:
        found = known.get(key(entry))
        if found is None:
            continue
        if entry.msgid_plural:
            entry.msgstr_plural = dict(found.msgstr_plural)
        else:
            entry.msgstr = found.msgstr
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")


def new_catalogue(language: str, entries: list[polib.POEntry]) -> polib.POFile:
    catalogue = polib.POFile(wrapwidth=0)
    catalogue.metadata = {**HEADER, "Language": language}
    for entry in entries:
        catalogue.append(entry)
    return catalogue


def committed(language: str) -> polib.POFile:
    path = po_path(language)
    return polib.pofile(str(path), wrapwidth=0) if path.exists() else new_catalogue(language, [])


@dataclass
class Report:
    missing: list[str] = field(default_factory=list)  # in the source, not in the catalogue
    untranslated: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    obsolete: list[str] = field(default_factory=list)  # in the catalogue, no longer used
    stale_mo: bool = False

    @property
    def problems(self) -> list[str]:
        lines = []
        for name, items in (
            ("missing from the catalogue", self.missing),
            ("untranslated", self.untranslated),
            ("fuzzy", self.fuzzy),
            ("placeholders differ from the English", self.placeholders),
            ("no longer in the source", self.obsolete),
        ):
            lines += [f"{name}: {item!r}" for item in items]
        if self.stale_mo:
            lines.append(
                "the compiled .mo does not match the .po: run `manage.py translations update`"
            )
        return lines


def _where(entry: polib.POEntry) -> str:
    place = f"{entry.occurrences[0][0]}:{entry.occurrences[0][1]}" if entry.occurrences else ""
    return f"{entry.msgid[:80]} ({place})" if place else entry.msgid[:80]


def check(
    language: str, prefixes: list[str] | None = None, extra: list[polib.POFile] = ()
) -> Report:
    fresh = extract(language)
    wanted = only(fresh, prefixes or [])
    catalogue = committed(language)
    have = {key(entry): entry for entry in catalogue if not entry.obsolete}
    for source in extra:
        have.update({key(e): e for e in source if not e.obsolete and is_translated(e)})
    report = Report()
    for entry in wanted:
        found = have.get(key(entry))
        if found is None:
            report.missing.append(_where(entry))
        elif "fuzzy" in found.flags:
            report.fuzzy.append(_where(entry))
        elif not is_translated(found):
            report.untranslated.append(_where(entry))
        elif placeholder_mismatch(found):
            report.placeholders.append(_where(entry))
    if not prefixes:
        used = {key(entry) for entry in fresh}
        report.obsolete = [e.msgid[:80] for e in catalogue if key(e) not in used]
        report.stale_mo = not mo_matches(language)
    return report


def mo_matches(language: str) -> bool:
    po, mo = po_path(language), po_path(language).with_suffix(".mo")
    if not po.exists() or not mo.exists():
        return not po.exists()
    source = {
        key(e): (e.msgstr, dict(e.msgstr_plural))
        for e in polib.pofile(str(po))
        if is_translated(e) and "fuzzy" not in e.flags and not e.obsolete
    }
    compiled = {key(e): (e.msgstr, dict(e.msgstr_plural)) for e in polib.mofile(str(mo)) if e.msgid}
    return source == compiled


def update(language: str, sources: list[polib.POFile] = ()) -> polib.POFile:
    """Rewrite the catalogue from the source: every message the source uses, translated from
    the committed catalogue or the given files where one of them has it; then compile."""
    fresh = extract(language)
    entries = list(fresh)
    fill(entries, known_translations(committed(language), *sources))
    catalogue = new_catalogue(language, entries)
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    catalogue.save(str(path))
    catalogue.save_as_mofile(str(path.with_suffix(".mo")))
    return catalogue


def write_part(language: str, prefixes: list[str], output: Path) -> int:
    """The messages of part of the source, in a file of their own to translate (keeps what
    that file and the committed catalogue already translate)."""
    fresh = extract(language)
    entries = only(fresh, prefixes)
    sources = [committed(language)]
    if output.exists():
        sources.append(polib.pofile(str(output), wrapwidth=0))
    fill(entries, known_translations(*sources))
    new_catalogue(language, entries).save(str(output))
    return len(entries)

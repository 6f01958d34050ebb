"""Korean is the default language and every shipped string has a Korean
translation; English is complete by being the source language; every further
language of settings.LANGUAGES (Vietnamese first) has a catalogue with
exactly the Korean catalogue's msgids, each translated, none fuzzy, with the
same placeholders, compiled."""

from __future__ import annotations

import gettext
import re
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import formats, translation

LOCALE = Path(settings.BASE_DIR) / "locale"


def po_blocks(path: Path) -> list[str]:
    """The entries of a .po file, each with its comment lines. Split before
    every msgid line rather than at blank lines: entries appended by several
    branches and merged by union sometimes lose the blank line between them."""
    blocks: list[str] = []
    for piece in re.split(r'\n(?=(?:#[^\n]*\n)*(?:msgctxt [^\n]*\n)?msgid ")', path.read_text(encoding="utf-8")):
        # The split also falls between a msgctxt line and its msgid: rejoin.
        if blocks and blocks[-1].rsplit("\n", 1)[-1].startswith("msgctxt "):
            blocks[-1] += "\n" + piece
        else:
            blocks.append(piece)
    return blocks


def po_entries(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a .po file, multi-line strings joined, the
    header skipped; a fuzzy entry counts as untranslated. An entry with a
    context (pgettext) is keyed "context\x04msgid", as gettext compiles it."""

    def joined(quoted: str) -> str:
        return "".join(re.findall(r'"(.*)"', quoted))

    entries = []
    for block in po_blocks(path):
        ids = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        strs = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.M)
        if ids and strs and joined(ids.group(1)):
            fuzzy = re.search(r"^#,.*\bfuzzy\b", block, re.M) is not None
            context = re.search(r'^msgctxt ((?:".*"\n?)+)', block, re.M)
            key = (joined(context.group(1)) + "\x04" if context else "") + joined(ids.group(1))
            entries.append((key, "" if fuzzy else joined(strs.group(1))))
    return entries


# Every language but the source one keeps a complete catalogue.
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != "en"]
FURTHER = [code for code in TRANSLATED if code != "ko"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")


def catalogue(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def python_format_msgids(path: Path) -> set[str]:
    """The msgids flagged python-format (their placeholders are filled in)."""
    flagged = set()
    for block in po_blocks(path):
        ids = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        if ids and re.search(r"^#,.*\bpython-format\b", block, re.M):
            flagged.add("".join(re.findall(r'"(.*)"', ids.group(1))))
    return flagged


def test_vietnamese_is_a_language_of_the_site():
    assert ("vi", "Tiếng Việt") in settings.LANGUAGES
    assert FURTHER == ["vi"]


@pytest.mark.parametrize("language", FURTHER)
def test_a_further_catalogue_has_exactly_the_korean_msgids(language):
    korean = {msgid for msgid, _ in po_entries(catalogue("ko"))}
    further = {msgid for msgid, _ in po_entries(catalogue(language))}
    assert sorted(korean - further) == [], f"missing in {language}"
    assert sorted(further - korean) == [], f"in {language} but not in Korean"


@pytest.mark.parametrize("language", FURTHER)
def test_a_further_catalogue_is_translated_without_fuzzy_entries(language):
    entries = po_entries(catalogue(language))
    assert len(entries) > 50
    # po_entries counts a fuzzy entry as untranslated.
    assert [msgid for msgid, msgstr in entries if not msgstr.strip()] == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders_and_flags(language):
    def placeholders(text: str) -> list[str]:
        return sorted(PLACEHOLDER.findall(text))

    entries = po_entries(catalogue(language))
    assert [(msgid, msgstr) for msgid, msgstr in entries if placeholders(msgid) != placeholders(msgstr)] == []
    assert python_format_msgids(catalogue(language)) == python_format_msgids(catalogue("ko"))


@pytest.mark.parametrize("language", FURTHER)
def test_compiled_further_catalogue_matches_the_po_file(language):
    entries = dict(po_entries(catalogue(language)))
    with open(LOCALE / language / "LC_MESSAGES" / "django.mo", "rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    compiled = {k if isinstance(k, str) else k[0]: v for k, v in catalog.items() if k}
    assert {k: v for k, v in entries.items() if compiled.get(k.replace('\\"', '"')) != v.replace('\\"', '"')} == {}


def test_vietnamese_dates_and_numbers_use_vietnamese_formats():
    with translation.override("vi"):
        assert formats.date_format(date(2026, 11, 28)) == "Ngày 28 tháng 11 năm 2026"
        assert formats.date_format(date(2026, 11, 28), "SHORT_DATE_FORMAT") == "28-11-2026"
        # A decimal comma, as the portal shows a temperature.
        assert Template("{{ t|floatformat:1 }} °C").render(Context({"t": 37.5})) == "37,5 °C"
    with translation.override("ko"):
        assert Template("{{ t|floatformat:1 }} °C").render(Context({"t": 37.5})) == "37.5 °C"


def test_every_korean_string_is_translated():
    entries = po_entries(LOCALE / "ko" / "LC_MESSAGES" / "django.po")
    assert len(entries) > 50
    untranslated = [msgid for msgid, msgstr in entries if not msgstr]
    assert untranslated == []


def test_compiled_korean_catalogue_matches_the_po_file():
    entries = dict(po_entries(LOCALE / "ko" / "LC_MESSAGES" / "django.po"))
    with open(LOCALE / "ko" / "LC_MESSAGES" / "django.mo", "rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    compiled = {k if isinstance(k, str) else k[0]: v for k, v in catalog.items() if k}
    assert {k: v for k, v in entries.items() if k.replace('\\"', '"') not in compiled} == {}


@pytest.mark.parametrize(("language", "expected"), [("ko", "로그인"), ("en", "Log in"), ("vi", "Đăng nhập")])
def test_login_page_speaks_the_chosen_language(client, db, language, expected):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert expected in page.content.decode()


def test_korean_is_the_default(client, db):
    with translation.override(None):
        page = client.get("/accounts/login/")
    assert '<html lang="ko">' in page.content.decode()

"""Korean is the default language and every shipped string has a Korean
translation; English is complete by being the source language."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale"


def po_entries(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a .po file, multi-line strings joined, the
    header skipped; a fuzzy entry counts as untranslated. An entry with a
    context (pgettext) is keyed "context\x04msgid", as gettext compiles it."""

    def joined(quoted: str) -> str:
        return "".join(re.findall(r'"(.*)"', quoted))

    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        ids = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        strs = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.M)
        if ids and strs and joined(ids.group(1)):
            fuzzy = re.search(r"^#,.*\bfuzzy\b", block, re.M) is not None
            context = re.search(r'^msgctxt ((?:".*"\n?)+)', block, re.M)
            key = (joined(context.group(1)) + "\x04" if context else "") + joined(ids.group(1))
            entries.append((key, "" if fuzzy else joined(strs.group(1))))
    return entries


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


@pytest.mark.parametrize(("language", "expected"), [("ko", "로그인"), ("en", "Log in")])
def test_login_page_speaks_the_chosen_language(client, db, language, expected):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert expected in page.content.decode()


def test_korean_is_the_default(client, db):
    with translation.override(None):
        page = client.get("/accounts/login/")
    assert '<html lang="ko">' in page.content.decode()

"""The translation catalogue as the tests read it: which English texts a
Korean page must never show."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings


def english_msgids() -> set[str]:
    """The English msgids whose Korean differs: seeing one of them, whole, on
    a Korean page means a string escaped translation. Only plain texts with
    a word in them: "%(x)s" patterns and symbols cannot be told from data."""
    text = (Path(settings.BASE_DIR) / "locale" / "ko" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    found = set()
    for block in text.split("\n\n"):
        ids = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        strs = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.M)
        if not ids or not strs:
            continue
        msgid = "".join(re.findall(r'"(.*)"', ids.group(1))).replace('\\"', '"')
        msgstr = "".join(re.findall(r'"(.*)"', strs.group(1))).replace('\\"', '"')
        if msgid and msgstr and msgid != msgstr and "%" not in msgid and re.search(r"[A-Za-z]{3}", msgid):
            found.add(msgid)
    return found


class _VisibleText(HTMLParser):
    """Text nodes and the attributes people read (placeholder, aria-label,
    title, alt), outside scripts, styles and templates."""

    SKIP = {"script", "style", "template", "noscript"}
    READ = {"placeholder", "aria-label", "title", "alt"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping.append(tag)
        for name, value in attrs:
            if name in self.READ and value and value.strip():
                self.texts.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_texts(html: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    return parser.texts

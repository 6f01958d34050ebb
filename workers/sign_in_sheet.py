"""The printed first sign-in sheet: what a new worker is handed (their
sign-in name, their one-time code, and the code as a QR that opens the
first sign-in page on their phone)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.http import HttpRequest
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from workers.models import Worker

# Codes travel between the admin's POST and the sheet page in the admin's
# session, and are removed when the sheet is shown: printed once, never stored.
SESSION_SHEETS = "healthhub_sign_in_sheets"


@dataclass(frozen=True)
class Sheet:
    worker: Worker
    code: str
    url: str
    qr_svg: SafeString


def sign_in_url(request: HttpRequest, code: str) -> str:
    return request.build_absolute_uri(reverse("first-login") + "?" + urlencode({"code": code}))


def qr_svg(data: str) -> SafeString:
    """``data`` as an inline SVG QR code (no image request, no inline script)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    # The library's own markup from a URL we built: nothing user-typed in it.
    return mark_safe(image.to_string(encoding="unicode"))


def sheets_keep(request: HttpRequest, codes: list[tuple[int, str]]) -> None:
    request.session[SESSION_SHEETS] = [[worker_id, code] for worker_id, code in codes]


def sheets_take(request: HttpRequest) -> list[Sheet]:
    """The sheets waiting in the session (and forget them)."""
    pending = request.session.pop(SESSION_SHEETS, [])
    workers = Worker.objects.select_related("user", "department", "site").in_bulk([w for w, _ in pending])
    sheets = []
    for worker_id, code in pending:
        worker = workers.get(worker_id)
        if worker is not None:
            url = sign_in_url(request, code)
            sheets.append(Sheet(worker=worker, code=code, url=url, qr_svg=qr_svg(url)))
    return sheets

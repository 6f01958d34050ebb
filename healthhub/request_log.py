"""How refused requests appear in the server's log: a 403 is a person (or a
probe) asking for something they may not have, an everyday event, so it is
one line, not a traceback."""

from __future__ import annotations

import logging


class RefusalsWithoutTraceback(logging.Filter):
    """On django.request: drops the traceback Django attaches to a 403
    (PermissionDenied) record; the one line says who asked for what."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True

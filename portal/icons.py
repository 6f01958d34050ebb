"""The portal's app icons (static/icons/portal-192.png and -512.png): a white
heart with a pulse line on the brand blue, drawn with the standard library
only (zlib and struct write the PNG). The heart stays inside the central 80 %
circle, so the same icons serve as "maskable".

Run ``python -m portal.icons`` to write them again; the PNG files
are committed.
"""

from __future__ import annotations

import math
import struct
import zlib
from itertools import pairwise
from pathlib import Path

BLUE = (0x0B, 0x6B, 0xCB)
WHITE = (0xFF, 0xFF, 0xFF)
SIZES = (192, 512)
SUPERSAMPLE = 3
# The pulse line across the heart, in the heart's coordinates (y up).
PULSE = [(-1.2, 0.15), (-0.45, 0.15), (-0.25, 0.6), (0.0, -0.45), (0.2, 0.4), (0.35, 0.15), (1.2, 0.15)]
PULSE_HALF_WIDTH = 0.075
# Half the icon's width, in the heart's coordinates: the heart (about 2.3
# wide) then takes some 55 % of the icon.
HALF_SPAN = 2.1


def _in_heart(x: float, y: float) -> bool:
    # The classic heart curve: (x² + y² − 1)³ − x²y³ ≤ 0.
    a = x * x + y * y - 1
    return a * a * a - x * x * y * y * y <= 0


def _near_pulse(x: float, y: float) -> bool:
    for (x1, y1), (x2, y2) in pairwise(PULSE):
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
        if math.hypot(x - (x1 + t * dx), y - (y1 + t * dy)) <= PULSE_HALF_WIDTH:
            return True
    return False


def _pixel(px: int, py: int, size: int) -> tuple[int, int, int]:
    white = 0
    for sy in range(SUPERSAMPLE):
        for sx in range(SUPERSAMPLE):
            # Centre the heart slightly low: its lobes make it look high.
            x = ((px + (sx + 0.5) / SUPERSAMPLE) / size * 2 - 1) * HALF_SPAN
            y = (1 - (py + (sy + 0.5) / SUPERSAMPLE) / size * 2) * HALF_SPAN + 0.15
            if _in_heart(x, y) and not _near_pulse(x, y):
                white += 1
    share = white / SUPERSAMPLE**2
    return tuple(round(b + (w - b) * share) for b, w in zip(BLUE, WHITE, strict=True))  # type: ignore[return-value]


def png(size: int) -> bytes:
    """The icon as PNG bytes (8-bit RGB, no interlace)."""
    rows = []
    for py in range(size):
        row = bytearray(b"\x00")  # filter type 0 for every row
        for px in range(size):
            row.extend(_pixel(px, py, size))
        rows.append(bytes(row))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def write_icons(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for size in SIZES:
        path = directory / f"portal-{size}.png"
        path.write_bytes(png(size))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_icons(Path(__file__).resolve().parent.parent / "static" / "icons"):
        print(path)

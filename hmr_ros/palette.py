"""One colour per person, shared by every view: the RViz mesh markers and the rendered image overlays.

Person i (tracking off) and track ``id`` (tracking on) get the same colour in the demo overlay, in RViz and
in the synthetic clips, because all of them read it here. The hues are the Okabe-Ito palette: eight
colours that stay distinct for the common forms of colour blindness.

Two encodings of the same colours: RGB floats in [0, 1] (ROS ``std_msgs/ColorRGBA``) and RGB 0-255 ints
(images). ``person_color_u8(i) == to_u8(person_color(i))`` exactly.
"""
from __future__ import annotations

import zlib
from typing import Iterable

__all__ = [
    "PALETTE",
    "PALETTE_U8",
    "person_color",
    "person_color_u8",
    "track_color",
    "people_colors",
    "people_colors_u8",
    "to_u8",
]

# Okabe-Ito order, RGB 0-255; index i -> person i (cycled).
PALETTE_U8: tuple[tuple[int, int, int], ...] = (
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (213, 94, 0),
    (240, 228, 66),
    (120, 120, 120),
)
PALETTE: tuple[tuple[float, float, float], ...] = tuple(
    (r / 255.0, g / 255.0, b / 255.0) for r, g, b in PALETTE_U8
)


def to_u8(rgb: Iterable[float]) -> tuple[int, int, int]:
    """RGB floats in [0, 1] -> RGB ints 0-255 (rounded, clipped)."""
    r, g, b = (min(255, max(0, round(255.0 * float(c)))) for c in rgb)
    return (r, g, b)


def person_color(i: int) -> tuple[float, float, float]:
    """RGB floats in [0, 1] of person ``i`` (by position, for untracked people); cycles the palette."""
    return PALETTE[int(i) % len(PALETTE)]


def person_color_u8(i: int) -> tuple[int, int, int]:
    """RGB 0-255 of person ``i``: the same colour as :func:`person_color`."""
    return PALETTE_U8[int(i) % len(PALETTE_U8)]


def track_color(track_id: str) -> tuple[float, float, float]:
    """RGB floats in [0, 1] of the person with track id ``track_id``: the same in every frame and every run
    (a CRC of the id, not Python's per-process salted ``hash``), so a tracked person keeps their colour."""
    return PALETTE[zlib.crc32(track_id.encode("utf-8")) % len(PALETTE)]


def people_colors(ids: Iterable[str]) -> list[tuple[float, float, float]]:
    """RGB floats per person in publishing order: :func:`track_color` for a tracked person (non-empty id),
    :func:`person_color` of the position for one without an id (tracking off)."""
    return [track_color(i_d) if i_d else person_color(i) for i, i_d in enumerate(ids)]


def people_colors_u8(ids: Iterable[str]) -> list[tuple[int, int, int]]:
    """:func:`people_colors` as RGB 0-255, for image overlays (``render_meshes(colors=...)``)."""
    return [to_u8(c) for c in people_colors(ids)]

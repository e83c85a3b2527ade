"""One palette for every view: distinct colours, the same colour in both encodings, stable per track id."""
import zlib

from hmr_ros.palette import (
    PALETTE,
    PALETTE_U8,
    people_colors,
    people_colors_u8,
    person_color,
    person_color_u8,
    to_u8,
    track_color,
)


def test_person_colours_are_distinct_and_cycle():
    colors = [person_color(i) for i in range(len(PALETTE))]
    assert len(set(colors)) == len(PALETTE) == len(PALETTE_U8)
    assert person_color(len(PALETTE)) == person_color(0)
    assert person_color_u8(len(PALETTE)) == person_color_u8(0)
    assert all(len(c) == 3 and all(0.0 <= x <= 1.0 for x in c) for c in colors)


def test_float_and_u8_encodings_are_the_same_colour():
    for i in range(2 * len(PALETTE)):
        assert to_u8(person_color(i)) == person_color_u8(i)
        assert all(isinstance(x, int) and 0 <= x <= 255 for x in person_color_u8(i))
    assert to_u8((0.0, 0.5, 1.0)) == (0, 128, 255)
    assert to_u8((-0.2, 1.3, 1.0)) == (0, 255, 255)  # clipped


def test_a_track_keeps_its_colour_whatever_its_position():
    ids = ["abcde", "qwert", "zzzzz", "mnbvc"]
    first = people_colors(ids)
    later = people_colors(list(reversed(ids)) + ["fresh"])
    assert [later[3 - i] for i in range(4)] == first
    # a property of the id, not of this process (no salted hash)
    assert track_color("abcde") == PALETTE[zlib.crc32(b"abcde") % len(PALETTE)]


def test_untracked_people_are_coloured_by_position_in_both_encodings():
    assert people_colors(["", "", ""]) == [person_color(0), person_color(1), person_color(2)]
    assert people_colors(["", "abcde"]) == [person_color(0), track_color("abcde")]
    assert people_colors_u8(["", "abcde"]) == [person_color_u8(0), to_u8(track_color("abcde"))]

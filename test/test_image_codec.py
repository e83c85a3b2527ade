"""Image decoding without cv_bridge: every supported raw encoding and JPEG/PNG give the same RGB pixels,
padding and byte order are honoured, and every kind of bad input is a typed ValueError."""
import array

import cv2
import numpy as np
import pytest

from hmr_ros.camera import MAX_IMAGE_SIDE as MAX_SIDE
from hmr_ros.image_codec import (SUPPORTED_ENCODINGS, ImageDecodeError, compressed_to_rgb,
                                     raw_to_rgb)


@pytest.fixture(scope="module")
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)  # odd sizes catch stride mistakes


def _pad_rows(pixels: np.ndarray, pad: int) -> tuple[bytes, int]:
    """Row-major bytes with ``pad`` garbage bytes at the end of every row; returns (data, step)."""
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.concatenate([rows, np.full((rows.shape[0], pad), 0xAB, np.uint8)], axis=1)
    return padded.tobytes(), padded.shape[1]


@pytest.mark.parametrize("encoding,make", [
    ("rgb8", lambda x: x),
    ("bgr8", lambda x: x[:, :, ::-1]),
    ("8UC3", lambda x: x[:, :, ::-1]),
    ("rgba8", lambda x: np.concatenate([x, np.full(x.shape[:2] + (1,), 7, np.uint8)], axis=2)),
    ("bgra8", lambda x: np.concatenate([x[:, :, ::-1], np.full(x.shape[:2] + (1,), 7, np.uint8)], axis=2)),
])
@pytest.mark.parametrize("pad", [0, 5])
def test_colour_encodings_decode_to_the_same_rgb(rgb, encoding, make, pad):
    data, step = _pad_rows(np.ascontiguousarray(make(rgb)), pad)
    out = raw_to_rgb(array.array("B", data), rgb.shape[0], rgb.shape[1], encoding, step)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb)


def test_rgb8_is_a_zero_copy_view_of_the_message_buffer(rgb):
    data = array.array("B", rgb.tobytes())
    out = raw_to_rgb(data, rgb.shape[0], rgb.shape[1], "rgb8", rgb.shape[1] * 3)
    assert np.shares_memory(out, np.frombuffer(data, np.uint8))


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8_is_grey_in_all_three_channels(rgb, encoding):
    grey = rgb[:, :, 0].copy()
    data, step = _pad_rows(grey, 3)
    out = raw_to_rgb(data, grey.shape[0], grey.shape[1], encoding, step)
    assert out.shape == grey.shape + (3,)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
@pytest.mark.parametrize("bigendian", [False, True])
def test_16_bit_mono_keeps_the_high_byte_in_either_byte_order(encoding, bigendian):
    rng = np.random.default_rng(1)
    grey16 = rng.integers(0, 65536, size=(9, 11), dtype=np.uint16)
    data, step = _pad_rows(grey16.astype(">u2" if bigendian else "<u2"), 4)
    out = raw_to_rgb(data, 9, 11, encoding, step, is_bigendian=bigendian)
    np.testing.assert_array_equal(out[:, :, 1], (grey16 >> 8).astype(np.uint8))


def test_extra_trailing_bytes_are_ignored(rgb):
    data = rgb.tobytes() + b"\x00" * 17
    np.testing.assert_array_equal(raw_to_rgb(data, rgb.shape[0], rgb.shape[1], "rgb8", rgb.shape[1] * 3), rgb)


@pytest.mark.parametrize("kwargs,kind", [
    (dict(encoding="yuv422"), "unsupported_encoding"),
    (dict(encoding="32FC1"), "unsupported_encoding"),
    (dict(height=0), "bad_size"),
    (dict(width=0, step=0), "bad_size"),
    (dict(width=MAX_SIDE + 1, step=3 * (MAX_SIDE + 1)), "bad_size"),
    (dict(step=10), "short_data"),                 # step < width * 3
    (dict(cut=1), "short_data"),                   # one byte short of step * height
])
def test_bad_raw_images_raise_a_typed_value_error(rgb, kwargs, kind):
    h, w = rgb.shape[:2]
    args = dict(height=h, width=w, encoding="rgb8", step=w * 3)
    cut = kwargs.pop("cut", 0)
    args.update(kwargs)
    data = rgb.tobytes()[: len(rgb.tobytes()) - cut]
    with pytest.raises(ImageDecodeError) as err:
        raw_to_rgb(data, args["height"], args["width"], args["encoding"], args["step"])
    assert err.value.kind == kind
    assert isinstance(err.value, ValueError) and str(err.value)


def test_every_supported_encoding_is_covered():
    assert set(SUPPORTED_ENCODINGS) == {"rgb8", "bgr8", "rgba8", "bgra8", "8UC3", "8UC4", "mono8", "8UC1",
                                        "mono16", "16UC1"}


def test_png_is_lossless(rgb):
    ok, png = cv2.imencode(".png", rgb[:, :, ::-1])
    assert ok
    np.testing.assert_array_equal(compressed_to_rgb(array.array("B", png.tobytes()), "png"), rgb)


@pytest.mark.parametrize("fmt", ["jpeg", "rgb8; jpeg compressed bgr8"])
def test_jpeg_decodes_close_to_the_original(fmt):
    # a smooth image so JPEG's error stays small
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 4, y * 5, (x + y) * 2], axis=2).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    out = compressed_to_rgb(jpg.tobytes(), fmt)
    assert out.shape == rgb.shape and out.flags.c_contiguous
    assert np.abs(out.astype(int) - rgb).mean() < 3.0


def test_corrupt_jpeg_is_rejected():
    rgb = np.full((32, 32, 3), 128, np.uint8)
    jpg = cv2.imencode(".jpg", rgb)[1].tobytes()
    for broken in (b"not an image at all", jpg[:40], b"\xff\xd8" + b"\x00" * 100):
        with pytest.raises(ImageDecodeError) as err:
            compressed_to_rgb(broken, "jpeg")
        assert err.value.kind == "corrupt_compressed"


def test_huge_compressed_image_is_rejected_from_its_header_before_decoding():
    png = bytearray(cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes())
    png[16:24] = (60000).to_bytes(4, "big") + (60000).to_bytes(4, "big")  # IHDR width, height
    with pytest.raises(ImageDecodeError) as err:
        compressed_to_rgb(bytes(png), "png")
    assert err.value.kind == "bad_size"


@pytest.mark.parametrize("fmt", ["16UC1; compressedDepth png", "tiff", "h264"])
def test_unsupported_compressed_formats_are_rejected(fmt):
    with pytest.raises(ImageDecodeError) as err:
        compressed_to_rgb(b"\x00" * 64, fmt)
    assert err.value.kind == "unsupported_encoding"


def test_a_one_pixel_high_jpeg_decodes_and_letterboxes():
    """1 x 8192 is within the size limit: decoding and the letterbox must both accept it (a side never rounds to 0 px)."""
    from hmr_ros.camera import letterbox
    ok, jpeg = cv2.imencode(".jpg", np.full((1, MAX_SIDE, 3), 200, np.uint8))
    assert ok
    rgb = compressed_to_rgb(jpeg.tobytes(), "jpeg")
    assert rgb.shape == (1, MAX_SIDE, 3)
    image, _ = letterbox(rgb, 128)
    assert image.shape == (128, 128, 3) and image.max() > 0


@pytest.mark.parametrize("decode", [
    lambda bad: raw_to_rgb(b"", 1, 1, bad, 3),
    lambda bad: compressed_to_rgb(b"", bad),
])
def test_error_messages_escape_the_publisher_text_they_quote(decode):
    """The encoding/format string comes from the publisher and the message goes to the log: one line, no raw
    control bytes (CWE-117), and a bounded length."""
    bad = "yuv\n[ERROR] forged\x1b[31m" + "x" * 1000
    with pytest.raises(ImageDecodeError) as err:
        decode(bad)
    text = str(err.value)
    assert "yuv\\n[ERROR] forged\\x1b[31m" in text
    assert text.isprintable() and len(text) < 400

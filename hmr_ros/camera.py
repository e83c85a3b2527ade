"""Letterbox geometry and the camera model that turns network outputs into metric 3D.

Conventions
- Pixel coordinates (u, v): u right, v down, origin at the top-left corner of the top-left pixel
  (pixel centres at +0.5), as in OpenCV and ``sensor_msgs/CameraInfo``.
- The camera optical frame: x right, y down, z forward, metres (REP-103 ``*_optical_frame``).
- The network predicts, per person, a weak-perspective camera ``(s, dx, dy)`` in normalised letterbox
  coordinates ([-1, 1] across the S x S network input): the person's root joint projects to
  ``c + s * (dx, dy)`` where ``c`` is the detected body centre, and ``s`` is the projected size of one metre
  divided by S/2. ``perspective_root`` lifts it to a full-perspective root position with the real intrinsics,
  as CLIFF does for crops: depth from the scale, direction from the back-projected pixel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

#: Largest accepted image side in pixels, for raw and compressed images alike: beyond this a frame is almost surely a
#: corrupt header or a decompression bomb, and the letterbox resize alone would take seconds.
MAX_IMAGE_SIDE = 8192
#: Largest accepted focal length (and |skew|) in pixels. Even a 500 mm lens on 1 um pixels is only 5e5 px; far
#: beyond that is a broken calibration, and e.g. fx = 1e300 overflows float64 in the projection downstream.
MAX_FOCAL_PX = 1e6
#: The principal point may lie this many image sizes outside the image on either side: [-10 W, 11 W].
PRINCIPAL_POINT_BAND = 10


@dataclass(frozen=True)
class Letterbox:
    """How an H x W image was placed into the S x S network input.

    ``lb = img * scale + (pad_x, pad_y)`` in pixel coordinates; the inverse is exact.
    """

    size: int        # S, network input side in pixels
    width: int       # W of the source image
    height: int      # H of the source image
    scale: float     # S / max(W, H)
    pad_x: float     # left padding in network pixels
    pad_y: float     # top padding in network pixels

    @staticmethod
    def fit(width: int, height: int, size: int) -> "Letterbox":
        """The centred, aspect-preserving placement of a W x H image in an S x S square (integer padding)."""
        scale = size / max(width, height)
        w_lb, h_lb = _content_size(width, height, scale, size)
        return Letterbox(size, width, height, scale, float((size - w_lb) // 2), float((size - h_lb) // 2))

    def to_image(self, uv_lb: np.ndarray) -> np.ndarray:
        """(..., 2) network-input pixels -> (..., 2) source-image pixels."""
        uv_lb = np.asarray(uv_lb, dtype=np.float64)
        return (uv_lb - (self.pad_x, self.pad_y)) / self.scale

    def to_letterbox(self, uv: np.ndarray) -> np.ndarray:
        """(..., 2) source-image pixels -> (..., 2) network-input pixels."""
        uv = np.asarray(uv, dtype=np.float64)
        return uv * self.scale + (self.pad_x, self.pad_y)


def _content_size(width: int, height: int, scale: float, size: int) -> tuple[int, int]:
    """Network-pixel size of the resized image: rounded, at least 1 px (a 1 x 8192 image still has content),
    at most ``size``."""
    return (min(size, max(1, round(width * scale))), min(size, max(1, round(height * scale))))


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Place an (H, W, 3) uint8 image into a (size, size, 3) uint8 square, aspect ratio kept, zero padded.

    Any valid size up to ``MAX_IMAGE_SIDE`` works, however thin: a side never shrinks below 1 network pixel.

    The resize uses exactly ``Letterbox.scale`` (OpenCV honours fx/fy when no output size is forced), so
    ``Letterbox.to_image`` is the exact inverse. Downscaling averages areas (INTER_AREA): plain bilinear sampling
    would alias and move small, distant people by up to a source pixel.
    """
    h, w = rgb.shape[:2]
    lb = Letterbox.fit(w, h, size)
    interp = cv2.INTER_AREA if lb.scale < 1.0 else cv2.INTER_LINEAR
    w_lb, h_lb = _content_size(w, h, lb.scale, size)
    if round(w * lb.scale) >= 1 and round(h * lb.scale) >= 1:
        resized = cv2.resize(rgb, None, fx=lb.scale, fy=lb.scale, interpolation=interp)
    else:
        # A side thinner than half a network pixel (e.g. a 1 x 8192 image) would round to 0 px, which OpenCV
        # rejects: that side is stretched to 1 px instead, so the transform is exact to within that one pixel.
        resized = cv2.resize(rgb, (w_lb, h_lb), interpolation=interp)
    x0, y0 = int(lb.pad_x), int(lb.pad_y)
    out = np.zeros((size, size, 3), dtype=np.uint8)
    crop = resized[: size - y0, : size - x0]
    out[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
    return out, lb


def default_intrinsics(width: int, height: int) -> np.ndarray:
    """The intrinsics used when CameraInfo is missing or all zero, (3, 3) float64.

    Focal length = the image diagonal in pixels (CLIFF's choice; a ~53 degree horizontal field of view
    at 4:3, typical of webcams and robot RGB cameras), principal point at the image centre.
    """
    f = math.hypot(width, height)
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def resolve_intrinsics(K, width: int, height: int) -> tuple[np.ndarray, bool]:
    """The one intrinsics policy of hmr_ros: validate K, fall back to ``default_intrinsics`` when it is None or
    all zero.

    All zero is what ``sensor_msgs/CameraInfo`` documents for an uncalibrated camera: that is a normal camera, not
    bad input (it is counted as "frames with default intrinsics", never as an error). Returns (K (3, 3) float64,
    is_default). Raises ValueError on a wrong shape, non-finite values, a non-positive focal length (a
    half-filled matrix is a broken driver, not an uncalibrated camera), a focal length or skew above
    ``MAX_FOCAL_PX``, or a principal point outside [-10 W, 11 W] x [-10 H, 11 H] (``PRINCIPAL_POINT_BAND``).
    """
    if K is None:
        return default_intrinsics(width, height), True
    K = np.asarray(K, dtype=np.float64)
    if K.size == 9:
        K = K.reshape(3, 3)
    if K.shape != (3, 3):
        raise ValueError(f"K must be a (3, 3) camera matrix (or 9 values), got shape {K.shape}")
    if not np.all(np.isfinite(K)):
        raise ValueError("K must be finite; got NaN or inf in the camera matrix")
    if not np.any(K):
        return default_intrinsics(width, height), True
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"K must have positive focal lengths fx, fy; got fx={K[0, 0]}, fy={K[1, 1]}")
    # Finite is not enough: fx = 1e300 overflows the projection downstream into inf/NaN. Real lenses, even
    # long telephotos on large sensors, stay far below MAX_FOCAL_PX.
    if K[0, 0] > MAX_FOCAL_PX or K[1, 1] > MAX_FOCAL_PX or abs(K[0, 1]) > MAX_FOCAL_PX:
        raise ValueError(f"K focal lengths and skew must be at most {MAX_FOCAL_PX:g} px; got fx={K[0, 0]:g}, "
                         f"fy={K[1, 1]:g}, skew={K[0, 1]:g}")
    # The principal point may lie outside the image (crops, off-axis sensors), but not arbitrarily far.
    lo, hi = -PRINCIPAL_POINT_BAND, 1 + PRINCIPAL_POINT_BAND
    if not (lo * width <= K[0, 2] <= hi * width and lo * height <= K[1, 2] <= hi * height):
        raise ValueError(f"K principal point ({K[0, 2]:g}, {K[1, 2]:g}) is absurd for a {width}x{height} image; "
                         f"expected cx in [{lo * width:g}, {hi * width:g}], cy in [{lo * height:g}, {hi * height:g}]")
    return K, False


def perspective_root(cam: torch.Tensor, center_lb: torch.Tensor, lb: Letterbox, K: np.ndarray) -> torch.Tensor:
    """Full-perspective root-joint positions from the weak-perspective network camera.

    Args:
        cam: (N, 3) (s, dx, dy): s > 0 is the projected size of 1 m in units of S/2 network pixels;
            (dx, dy) the root offset from the detected centre in metres at that scale.
        center_lb: (N, 2) detected body centres in network-input pixels.
        lb: the letterbox of the frame.
        K: (3, 3) intrinsics of the source image (see ``resolve_intrinsics``).

    Returns:
        (N, 3) root joint in the camera optical frame, metres.

    One metre spans ``s * S / 2`` network pixels = ``s * S / (2 * scale)`` image pixels, so with the mean of
    fx and fy as focal length the depth is ``z = 2 * scale * f / (s * S)``. The root pixel is back-projected
    through K at that depth (this is the CLIFF full-perspective conversion with the letterbox as the crop).
    """
    s, d = cam[:, :1], cam[:, 1:]
    root_lb = center_lb + s * d * (lb.size / 2.0)
    u = (root_lb[:, 0] - lb.pad_x) / lb.scale
    v = (root_lb[:, 1] - lb.pad_y) / lb.scale
    fx, fy, cx, cy, skew = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), float(K[0, 1])
    z = 2.0 * lb.scale * (0.5 * (fx + fy)) / (s[:, 0] * lb.size)
    y = (v - cy) * z / fy
    # u = fx x/z + skew y/z + cx: the inverse of geometry.projection.project, which the boxes and overlays use
    return torch.stack([((u - cx) * z - skew * y) / fx, y, z], dim=-1)

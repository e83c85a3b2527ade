"""The world around the people: camera, lighting, procedural backgrounds, blob shadows and sensor effects.

Frames. The *level* frame is the camera's position with the pitch removed: x right, y down (gravity), z forward
and horizontal, origin at the camera; the floor is the plane y = ``camera.height_m``. The camera optical frame is
the level frame pitched down by ``camera.pitch`` (radians, > 0 looks down): ``p_cam = camera.R @ p_level``.

Camera (:func:`sample_camera`): image size from :data:`SIZES` (landscape 640x480, 1280x720 and their portraits),
horizontal field of view 40-100 deg (square pixels, principal point at the image centre), height 0.5-2.5 m,
pitch -20..+20 deg. Lighting (:func:`sample_lighting`): a directional light 15-80 deg above the horizon from any
azimuth, intensity 0.45-0.9, ambient 0.25-0.55, tinted warm or cool. Backgrounds (:func:`render_background`):

- ``room``: a textured floor (checker, tiles, planks, concrete) and a back wall 6-25 m away (bricks, stripes,
  panels, plaster), lit by the light, fading into haze with distance;
- ``outdoor``: ground (asphalt/grass-like noise or paving) up to the horizon, a skyline of block buildings with
  windows 30-80 m away, a sky gradient with soft clouds;
- ``clutter``: photo-like, no geometry: multi-scale noise, gradients and random rectangles, ellipses, lines and
  polygons (people then stand in front of an arbitrary picture; floor shadows are off).

Sensor effects (:func:`sample_post`, :func:`postprocess`): Gaussian blur (sigma 0-1.2 px) or short linear motion
blur, Gaussian noise (sigma 0-6 grey levels, fresh per frame), JPEG re-encoding at quality 55-95.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hmr_ros.geometry.projection import project
from hmr_ros.sim.appearance import Lighting

__all__ = ["SIZES", "BACKGROUNDS", "Camera", "make_camera", "sample_camera", "sample_lighting", "Background",
           "render_background", "draw_shadow", "PostParams", "sample_post", "postprocess"]

SIZES = ((640, 480), (1280, 720), (480, 640), (720, 1280))
BACKGROUNDS = ("room", "outdoor", "clutter")


@dataclass
class Camera:
    """width, height: pixels; K (3, 3); height_m: metres above the floor; pitch: rad (> 0 down); hfov: rad;
    R (3, 3): level frame -> optical frame."""

    width: int
    height: int
    K: np.ndarray
    height_m: float
    pitch: float
    hfov: float
    R: np.ndarray


def make_camera(width: int, height: int, hfov_deg: float, height_m: float, pitch_deg: float) -> Camera:
    f = (width / 2.0) / np.tan(np.deg2rad(hfov_deg) / 2.0)
    K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
    p = np.deg2rad(pitch_deg)
    # optical axes in the level frame: x = (1,0,0), z = (0, sin p, cos p), y = z x x; R's rows are these axes
    R = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(p), -np.sin(p)], [0.0, np.sin(p), np.cos(p)]])
    return Camera(int(width), int(height), K, float(height_m), float(p), float(np.deg2rad(hfov_deg)), R)


def sample_camera(rng: np.random.Generator, size: tuple[int, int] | None = None) -> Camera:
    """Random camera; ``size`` (width, height) overrides the random choice from :data:`SIZES`."""
    w, h = SIZES[rng.integers(len(SIZES))] if size is None else size
    return make_camera(w, h, rng.uniform(40.0, 100.0), rng.uniform(0.5, 2.5), rng.uniform(-20.0, 20.0))


def sample_lighting(rng: np.random.Generator, cam: Camera) -> Lighting:
    el, az = np.deg2rad(rng.uniform(15, 80)), rng.uniform(0, 2 * np.pi)
    towards = np.array([np.cos(el) * np.sin(az), -np.sin(el), np.cos(el) * np.cos(az)])
    tint = np.array([1.0 + rng.uniform(-0.08, 0.08), 1.0, 1.0 - rng.uniform(-0.08, 0.08)])
    return Lighting(cam.R @ towards, float(rng.uniform(0.45, 0.9)), float(rng.uniform(0.25, 0.55)), tint)


def _periodic_noise(rng: np.random.Generator, size: int, max_freq: int, terms: int = 24) -> np.ndarray:
    """(size, size) tileable smooth noise, roughly unit variance: a sum of integer-frequency plane waves."""
    u = 2 * np.pi * np.arange(size, dtype=np.float32) / size
    out = np.zeros((size, size), np.float32)
    for _ in range(terms):
        kx, ky = rng.integers(-max_freq, max_freq + 1, size=2)
        amp = 1.0 / (1.0 + np.hypot(kx, ky))
        ax, ay = kx * u + rng.uniform(0, 2 * np.pi), ky * u
        # sin(ax + ay) as two outer products: O(size) sines instead of O(size^2)
        out += amp * (np.outer(np.cos(ay), np.sin(ax)) + np.outer(np.sin(ay), np.cos(ax)))
    return out / (out.std() + 1e-6)


def _colour(rng: np.random.Generator, lo: float = 40, hi: float = 230) -> np.ndarray:
    base = rng.uniform(lo, hi)
    return np.clip(base + rng.normal(0, 25, 3), 0, 255)


def _texture(rng: np.random.Generator, kind: str, size: int = 256) -> np.ndarray:
    """(size, size, 3) float32 tileable texture, 0-255; one tile spans the texture's scale in metres."""
    u = (np.arange(size) + 0.5) / size
    uu, vv = np.meshgrid(u, u)
    c1, c2 = _colour(rng), _colour(rng)
    n_rows = int(rng.integers(2, 9))
    if kind == "checker":
        m = (np.floor(uu * 2) + np.floor(vv * 2)) % 2
    elif kind in ("tiles", "panels"):
        m = ((uu * n_rows) % 1 < 0.04) | ((vv * n_rows) % 1 < 0.04)
    elif kind in ("planks", "bricks", "paving"):
        row = np.floor(vv * n_rows)
        shift = (row % 2) * 0.5 if kind != "planks" else rng.uniform(0, 1, n_rows)[row.astype(int)]
        cols = n_rows // 2 + 1
        m = (((uu + shift) * cols) % 1 < 0.05) | ((vv * n_rows) % 1 < 0.06)
        c2 = c1 * rng.uniform(0.4, 0.7)
    elif kind == "stripes":
        m = (uu * n_rows) % 1 < 0.5
    else:  # plain, concrete, plaster, grass, asphalt
        m = np.zeros_like(uu, dtype=bool)
    col = np.where(np.asarray(m, bool)[..., None], c2, c1).astype(np.float32)
    rough = {"concrete": 0.18, "asphalt": 0.2, "grass": 0.3, "plaster": 0.06}.get(kind, 0.1)
    noise = _periodic_noise(rng, size, 24) * rough + _periodic_noise(rng, size, 4) * rough
    if kind == "grass":
        col = col * 0.5 + np.array([70, 110, 40], np.float32) * rng.uniform(0.6, 1.2)
    return np.clip(col * (1.0 + noise[..., None]), 0, 255)


def _sample_tex(tex: np.ndarray, a: np.ndarray, b: np.ndarray, metres: float) -> np.ndarray:
    """Look up a tileable texture at surface coordinates (a, b) in metres (float32 maps, wrap-around)."""
    s = tex.shape[0] / metres
    return cv2.remap(tex, (a * s).astype(np.float32), (b * s).astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_WRAP)


@dataclass
class Background:
    """rgb (H, W, 3) uint8; style: one of BACKGROUNDS; floor_xz: (H, W, 2) float32 level-frame floor point
    (x, z) in metres at each pixel, NaN where the pixel does not see the floor."""

    rgb: np.ndarray
    style: str
    floor_xz: np.ndarray


def _rays(cam: Camera) -> np.ndarray:
    """(H, W, 3) level-frame direction of each pixel centre's ray (unnormalised, z_cam = 1)."""
    K = cam.K
    x = (np.arange(cam.width) + 0.5 - K[0, 2]) / K[0, 0]
    y = (np.arange(cam.height) + 0.5 - K[1, 2]) / K[1, 1]
    xx, yy = np.meshgrid(x, y)
    d = np.stack([xx, yy, np.ones_like(xx)], axis=-1)
    return d @ cam.R  # rows: R^T d


def render_background(rng: np.random.Generator, cam: Camera, light: Lighting, style: str | None = None
                      ) -> Background:
    """Background image for a static camera (see the module docstring for the styles)."""
    style = BACKGROUNDS[rng.choice(len(BACKGROUNDS), p=[0.45, 0.35, 0.2])] if style is None else style
    H, W = cam.height, cam.width
    floor_xz = np.full((H, W, 2), np.nan, np.float32)
    if style == "clutter":
        return Background(_clutter(rng, W, H), style, floor_xz)
    d = _rays(cam)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(d[..., 1] > 1e-6, cam.height_m / d[..., 1], np.inf)
    up_cam = cam.R @ np.array([0.0, -1.0, 0.0])
    floor_lit = light.ambient + light.intensity * max(0.0, float(up_cam @ light.direction))
    haze = np.array([200.0, 205.0, 215.0]) * rng.uniform(0.7, 1.1)
    if style == "room":
        wall_z = rng.uniform(6.0, 25.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_wall = np.where(d[..., 2] > 1e-6, wall_z / d[..., 2], np.inf)
        fkind = ["checker", "tiles", "planks", "concrete"][rng.integers(4)]
        wkind = ["bricks", "stripes", "panels", "plaster"][rng.integers(4)]
        floor_tex, wall_tex = _texture(rng, fkind), _texture(rng, wkind)
        fs, ws = rng.uniform(0.8, 3.0), rng.uniform(1.0, 4.0)
        P = d * np.minimum(t_floor, t_wall)[..., None]
        is_floor = t_floor <= t_wall
        floor = _sample_tex(floor_tex, P[..., 0], P[..., 2], fs) * floor_lit
        back_cam = cam.R @ np.array([0.0, 0.0, -1.0])
        wall_lit = light.ambient + light.intensity * max(0.0, float(back_cam @ light.direction))
        wall = _sample_tex(wall_tex, P[..., 0], cam.height_m - P[..., 1], ws) * wall_lit
        img = np.where(is_floor[..., None], floor, wall)
        dist = np.linalg.norm(P, axis=-1)
        fog = 1.0 - np.exp(-dist / rng.uniform(25.0, 80.0))
    else:  # outdoor
        far_z = rng.uniform(30.0, 80.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_far = np.where(d[..., 2] > 1e-6, far_z / d[..., 2], np.inf)
        gkind = ["asphalt", "grass", "paving", "concrete"][rng.integers(4)]
        ground_tex = _texture(rng, gkind)
        gs = rng.uniform(1.0, 4.0)
        is_floor = t_floor <= t_far
        P = d * np.where(is_floor, t_floor, t_far)[..., None]
        ground = _sample_tex(ground_tex, P[..., 0], P[..., 2], gs) * floor_lit
        # skyline: blocks 4-15 m wide with random heights along the far plane's x
        edges = np.cumsum(rng.uniform(4.0, 15.0, 64)) - 400.0
        heights = rng.uniform(3.0, 35.0, 64)
        block = np.clip(np.searchsorted(edges, P[..., 0]), 0, 63)
        alt = cam.height_m - P[..., 1]  # metres above the ground on the far plane
        building = np.isfinite(t_far) & (alt < heights[block]) & ~is_floor
        bcol = np.stack([_colour(rng, 60, 200) for _ in range(64)])[block]
        windows = ((P[..., 0] % 3.0) < 1.4) & ((alt % 3.2) < 1.6)
        bimg = bcol * np.where(windows, 0.55, 1.0)[..., None] * (light.ambient + 0.6 * light.intensity)
        elev = -d[..., 1] / np.linalg.norm(d, axis=-1)
        top, horizon = np.array([70.0, 120.0, 200.0]) * rng.uniform(0.7, 1.2), haze
        sky = horizon + (top - horizon) * np.clip(elev * 2.5, 0, 1)[..., None]
        clouds = cv2.resize(_periodic_noise(rng, 64, 6), (W, H), interpolation=cv2.INTER_CUBIC)
        sky = sky + 40.0 * np.clip(clouds, 0, None)[..., None] * rng.uniform(0.0, 1.0)
        img = np.where(is_floor[..., None], ground, np.where(building[..., None], bimg, sky))
        dist = np.where(is_floor | building, np.linalg.norm(P, axis=-1), 0.0)
        fog = 1.0 - np.exp(-dist / rng.uniform(60.0, 200.0))
    img = img * (1 - fog[..., None]) + haze * fog[..., None]
    floor_xz[is_floor] = P[is_floor][:, [0, 2]]
    rgb = np.clip(img * light.colour, 0, 255).astype(np.uint8)
    return Background(rgb, style, floor_xz)


def _clutter(rng: np.random.Generator, W: int, H: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    a, b = _colour(rng), _colour(rng)
    ang = rng.uniform(0, 2 * np.pi)
    g = ((xx * np.cos(ang) + yy * np.sin(ang)) / max(W, H) + 1) / 2
    img = a * (1 - g[..., None]) + b * g[..., None]
    for scale in (8, 32, 128):
        n = cv2.resize(rng.normal(size=(max(2, H // scale), max(2, W // scale))).astype(np.float32), (W, H),
                       interpolation=cv2.INTER_CUBIC)
        img += n[..., None] * rng.uniform(5, 25) * rng.uniform(0.5, 1.5, 3)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(10, 40))):
        col = tuple(int(c) for c in _colour(rng, 10, 245))
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        s = int(rng.integers(5, max(W, H) // 3))
        kind = rng.integers(4)
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + s, y + int(s * rng.uniform(0.3, 2))), col, -1)
        elif kind == 1:
            cv2.ellipse(img, (x, y), (s // 2, int(s * rng.uniform(0.2, 0.6))), float(rng.uniform(0, 180)), 0, 360,
                        col, -1)
        elif kind == 2:
            cv2.line(img, (x, y), (int(rng.integers(0, W)), int(rng.integers(0, H))), col, int(rng.integers(1, 8)))
        else:
            pts = (np.array([x, y]) + rng.normal(0, s / 2, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(img, [pts], col)
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))


def draw_shadow(image: np.ndarray, bg: Background, cam: Camera, light: Lighting, foot_xz: np.ndarray,
                radius_m: float = 0.45) -> None:
    """Darken the floor under a person (in place): a soft ellipse at level-frame floor point ``foot_xz`` (2,),
    stretched away from the light; only pixels that see the floor, only within the ellipse's projected box."""
    towards = cam.R.T @ light.direction  # level frame
    away = -towards[[0, 2]]
    norm = np.linalg.norm(away)
    away = away / norm if norm > 1e-6 else np.zeros(2)
    stretch = min(2.5, 1.0 / max(-towards[1], 0.3))  # low sun: longer shadow
    centre = foot_xz + away * radius_m * (stretch - 1.0)
    r = radius_m * stretch
    corners = np.array([[centre[0] + sx * r, cam.height_m, centre[1] + sz * r] for sx in (-1, 1) for sz in (-1, 1)])
    pc = corners @ cam.R.T
    if (pc[:, 2] <= 0.05).any():
        return
    uv = project(pc, cam.K)
    x0, y0 = np.clip(np.floor(uv.min(0)).astype(int), 0, [cam.width, cam.height])
    x1, y1 = np.clip(np.ceil(uv.max(0)).astype(int) + 1, 0, [cam.width, cam.height])
    if x1 <= x0 or y1 <= y0:
        return
    xz = bg.floor_xz[y0:y1, x0:x1] - centre
    along = xz @ away if norm > 1e-6 else np.zeros(xz.shape[:2])
    across2 = (xz ** 2).sum(-1) - along ** 2
    d2 = along ** 2 / (r * r) + across2 / (radius_m * radius_m)
    dark = 1.0 - 0.5 * light.intensity * np.nan_to_num(np.exp(-2.0 * d2), nan=0.0)
    patch = image[y0:y1, x0:x1]
    patch[:] = np.clip(patch * dark[..., None], 0, 255).astype(np.uint8)


@dataclass
class PostParams:
    """Per clip: blur_sigma px (0 = none), motion_blur (length px, angle rad; length 0 = none),
    noise_sigma grey levels, jpeg_quality (0 = no JPEG round trip)."""

    blur_sigma: float
    motion_blur: tuple[int, float]
    noise_sigma: float
    jpeg_quality: int


def sample_post(rng: np.random.Generator) -> PostParams:
    u = rng.random()
    blur = float(rng.uniform(0.3, 1.2)) if u < 0.5 else 0.0
    motion = (int(rng.integers(3, 6)), float(rng.uniform(0, np.pi))) if u > 0.8 else (0, 0.0)
    jpeg = int(rng.integers(55, 96)) if rng.random() < 0.8 else 0
    return PostParams(blur, motion, float(rng.uniform(0.0, 6.0)), jpeg)


def postprocess(rgb: np.ndarray, p: PostParams, rng: np.random.Generator) -> np.ndarray:
    """Apply blur, noise and JPEG to an (H, W, 3) uint8 RGB frame (returns a new array)."""
    out = rgb
    if p.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), p.blur_sigma)
    if p.motion_blur[0] > 1:
        n, ang = p.motion_blur
        k = np.zeros((n, n), np.float32)
        c = (n - 1) / 2
        for s in np.linspace(-c, c, 2 * n):
            k[int(round(c + s * np.sin(ang))), int(round(c + s * np.cos(ang)))] = 1.0
        out = cv2.filter2D(out, -1, k / k.sum())
    if p.noise_sigma > 0:
        noise = rng.standard_normal(out.shape, dtype=np.float32) * np.float32(p.noise_sigma)
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    if p.jpeg_quality > 0:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, p.jpeg_quality])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(out)

"""What people look like: clothes-like colour regions, procedural textures, and the shading of rendered pixels.

Regions come from the body model's skinning weights (the bone with the largest weight at each vertex): skin (neck,
hands and the face), hair (the top and back of the head in the rest pose), shirt (trunk, collars, upper arms),
forearms (shirt or skin: long or short sleeves), trousers (pelvis, thighs), shins (trousers or skin: trousers or
shorts), shoes (ankles and feet). Each face takes the region of its first vertex.

Textures are functions of the rest-pose surface point (metres, model frame), so they stick to the body as it
moves: plain, stripes, checks, dots, and smooth noise (a sum of random sinusoids), each mixing the region's two
colours with some fabric grain. Shading is Lambert with the interpolated vertex normal: ``ambient + intensity *
max(0, n . l)`` times the light colour, ``l`` the direction towards the light in the camera frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hmr_ros.render.raster import Raster

__all__ = ["REGIONS", "vertex_regions", "Appearance", "sample_appearance", "Lighting", "shade_people"]

REGIONS = ("skin", "hair", "shirt", "forearm", "trousers", "shin", "shoes")
_SKIN, _HAIR, _SHIRT, _FOREARM, _TROUSERS, _SHIN, _SHOES = range(7)
_BONE_REGION = {0: _TROUSERS, 1: _TROUSERS, 2: _TROUSERS, 3: _SHIRT, 4: _SHIN, 5: _SHIN, 6: _SHIRT, 7: _SHOES,
                8: _SHOES, 9: _SHIRT, 10: _SHOES, 11: _SHOES, 12: _SKIN, 13: _SHIRT, 14: _SHIRT, 15: _SKIN,
                16: _SHIRT, 17: _SHIRT, 18: _FOREARM, 19: _FOREARM, 20: _SKIN, 21: _SKIN, 22: _SKIN, 23: _SKIN}
TEXTURES = ("plain", "stripes", "checks", "dots", "noise")
_SKIN_TONES = np.array([[255, 224, 196], [241, 194, 125], [224, 172, 105], [198, 134, 66], [141, 85, 36],
                        [92, 58, 35]], dtype=np.float64)
_HAIR_COLOURS = np.array([[20, 16, 14], [70, 45, 25], [120, 85, 50], [200, 170, 110], [150, 150, 150],
                          [140, 60, 30]], dtype=np.float64)


def vertex_regions(lbs_weights: np.ndarray, v_template: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(V, 24) skinning weights, (V, 3) rest vertices, (24, 3) rest joints -> (V,) region index into REGIONS."""
    bone = np.argmax(lbs_weights, axis=1)
    region = np.array([_BONE_REGION.get(int(b), _SHIRT) for b in range(24)])[bone]
    head = joints[15]
    rel = v_template - head
    # hair: above the eyes, or on the back of the head
    hair = (bone == 15) & ((rel[:, 1] > 0.06) | ((rel[:, 2] < -0.02) & (rel[:, 1] > -0.04)))
    region[hair] = _HAIR
    return region


@dataclass
class Appearance:
    """One person's look: per region (R = len(REGIONS)) colours (R, 2, 3) RGB 0-255, texture kind (R,) index
    into TEXTURES, frequency (R,) cycles per metre, direction (R, 3) unit, phase (R,) rad, noise sinusoids
    (R, 6, 4) (direction xyz, phase) for the "noise" texture."""

    colours: np.ndarray
    kind: np.ndarray
    freq: np.ndarray
    direction: np.ndarray
    phase: np.ndarray
    waves: np.ndarray


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """RGB 0-255 from a random hue, a saturation biased to muted, and a value from dark to light."""
    h, sat, val = rng.uniform(0, 1), rng.uniform(0.0, 0.9) ** 1.5, rng.uniform(0.12, 0.95)
    rgb = np.clip(np.abs((h * 6 + np.array([0.0, 4.0, 2.0])) % 6 - 3) - 1, 0, 1)  # the hue wheel
    return 255 * val * (1 - sat + sat * rgb)


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """Random skin tone, hair, clothes colours and textures, sleeve and trouser lengths."""
    R = len(REGIONS)
    cols = np.stack([[_random_colour(rng), _random_colour(rng)] for _ in range(R)])
    kind = rng.choice(len(TEXTURES), size=R, p=[0.4, 0.2, 0.15, 0.1, 0.15])
    a = rng.uniform(0, len(_SKIN_TONES) - 1)
    skin = _SKIN_TONES[int(a)] + (a % 1) * (_SKIN_TONES[min(int(a) + 1, len(_SKIN_TONES) - 1)] - _SKIN_TONES[int(a)])
    cols[_SKIN] = [skin, skin * 0.9]
    kind[_SKIN] = 0
    hair = _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))] * rng.uniform(0.8, 1.2)
    cols[_HAIR] = [hair, hair * 0.7]
    kind[_HAIR] = 4
    kind[_SHOES] = 0
    cols[_SHOES] = cols[_SHOES] * 0.6
    long_sleeves, long_trousers = rng.random() < 0.6, rng.random() < 0.75
    freq = rng.uniform(4.0, 25.0, size=R)
    direction = rng.normal(size=(R, 3))
    direction[:, 1] += np.where(rng.random(R) < 0.6, 3.0, 0.0)  # mostly horizontal stripes
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    phase = rng.uniform(0, 2 * np.pi, size=R)
    wdir = rng.normal(size=(R, 6, 3)) * rng.uniform(3.0, 15.0, size=(R, 6, 1))
    waves = np.concatenate([wdir, rng.uniform(0, 2 * np.pi, size=(R, 6, 1))], axis=2)
    for dst, src, inherit in ((_FOREARM, _SHIRT, long_sleeves), (_SHIN, _TROUSERS, long_trousers)):
        src = src if inherit else _SKIN
        cols[dst], kind[dst], freq[dst] = cols[src], kind[src], freq[src]
        direction[dst], phase[dst], waves[dst] = direction[src], phase[src], waves[src]
    return Appearance(np.clip(cols, 0, 255), kind, freq, direction, phase, waves)


@dataclass
class Lighting:
    """Directional light: ``direction`` (3,) unit vector towards the light in the camera frame, ``intensity``
    and ``ambient`` (fractions, their sum ~1), ``colour`` (3,) RGB gain around 1."""

    direction: np.ndarray
    intensity: float
    ambient: float
    colour: np.ndarray


def _pattern(kind: int, q: np.ndarray, g: Appearance, r: np.ndarray) -> np.ndarray:
    """Mix weight in [0, 1] of the second colour at rest-pose points q (N, 3) of regions r (N,)."""
    s = (q * g.direction[r]).sum(1) * g.freq[r] * 2 * np.pi + g.phase[r]
    if kind == 1:
        return 0.5 + 0.5 * np.tanh(4 * np.sin(s))
    if kind == 2:
        s2 = (q * np.cross(g.direction[r], [0.0, 0.0, 1.0])).sum(1) * g.freq[r] * 2 * np.pi
        return 0.5 * (0.5 + 0.5 * np.tanh(4 * np.sin(s))) + 0.5 * (0.5 + 0.5 * np.tanh(4 * np.sin(s2)))
    if kind == 3:
        cell = q * g.freq[r, None] * 0.5
        d = np.linalg.norm(cell - np.round(cell), axis=1)
        return (d < 0.25).astype(np.float64)
    if kind == 4:
        w = g.waves[r]  # (N, 6, 4)
        v = np.sin((q[:, None, :] * w[..., :3]).sum(-1) + w[..., 3]).sum(1) / np.sqrt(3.0)
        return 0.5 + 0.5 * np.tanh(v)
    return np.zeros(len(q))


def shade_people(image: np.ndarray, raster: Raster, people: list[tuple[np.ndarray, np.ndarray, Appearance]],
                 faces: np.ndarray, rest: np.ndarray, face_region: np.ndarray, light: Lighting) -> np.ndarray:
    """Paint the rasterised people over ``image`` (H, W, 3) uint8 (modified in place and returned).

    Args:
        people: per mesh index of ``raster``: (vertices (V, 3) camera frame, unit vertex normals (V, 3),
            appearance). faces: (F, 3). rest: (V, 3) rest-pose vertices (texture coordinates).
        face_region: (F,) region per face.
    """
    H, W = raster.face.shape
    pix = np.nonzero(raster.face.ravel() >= 0)[0]
    if len(pix) == 0:
        return image
    f = raster.face.ravel()[pix]
    m = raster.mesh.ravel()[pix].astype(np.int64)
    b = raster.bary.reshape(-1, 3)[pix].astype(np.float64)
    vidx = faces[f]  # (N, 3)
    normals = np.zeros((len(pix), 3))
    for k, (_, vn, _) in enumerate(people):
        sel = m == k
        if sel.any():
            normals[sel] = (vn[vidx[sel]] * b[sel, :, None]).sum(1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    q = (rest[vidx] * b[..., None]).sum(1)
    region = face_region[f]
    colour = np.zeros((len(pix), 3))
    for k, (_, _, look) in enumerate(people):
        sel = np.nonzero(m == k)[0]
        for kind in np.unique(look.kind[region[sel]]):
            s = sel[look.kind[region[sel]] == kind]
            mix = _pattern(int(kind), q[s], look, region[s])[:, None]
            grain = 1.0 + 0.04 * np.sin(q[s] @ np.array([310.0, 170.0, 230.0]))[:, None]
            colour[s] = ((1 - mix) * look.colours[region[s], 0] + mix * look.colours[region[s], 1]) * grain
    # both sides lit a little: thin parts seen edge-on should not turn black
    lam = np.maximum(0.0, normals @ light.direction)
    rim = 0.15 * np.maximum(0.0, -normals[:, 2])  # faces towards the camera (normal z < 0) catch fill light
    shade = light.ambient + light.intensity * lam + rim
    out = image.reshape(-1, 3)
    out[pix] = np.clip(colour * shade[:, None] * light.colour, 0, 255).astype(np.uint8)
    return image

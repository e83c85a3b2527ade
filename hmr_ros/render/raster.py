"""A vectorised z-buffer triangle rasteriser (numpy): which triangle, which mesh and what depth at every pixel.

Pixel (x, y) covers [x, x+1) x [y, y+1) and is sampled at its centre (x + 0.5, y + 0.5). Every (triangle,
covered pixel-centre) pair is expanded with numpy, its depth interpolated perspective-correctly
(1/z linear in screen space), and the nearest pair per pixel wins (``np.minimum.at``), so occlusion is exact per
pixel even for interpenetrating meshes. Work is O(sum of triangle bounding-box areas), chunked to bound memory.
Colours are not decided here: :mod:`hmr_ros.sim.appearance` shades the winning fragments (deferred shading).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hmr_ros.geometry.projection import project

__all__ = ["Raster", "rasterize", "vertex_normals"]

_CHUNK_PAIRS = 1 << 21


@dataclass
class Raster:
    """Per-pixel visibility of a set of meshes; images are (H, W).

    Attributes:
        face: int32 face index within its mesh, -1 where no mesh covers the pixel.
        mesh: int16 index of the mesh (person) seen at the pixel, -1 where none.
        depth: float32 z in metres (camera optical frame) of the nearest surface, +inf where none.
        bary: (H, W, 3) float32 perspective-correct barycentric weights of the face's three vertices.
    """

    face: np.ndarray
    mesh: np.ndarray
    depth: np.ndarray
    bary: np.ndarray


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) vertices, (F, 3) outward-wound faces -> (V, 3) unit normals (area-weighted face normals)."""
    tri = verts[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    V = len(verts)
    idx = faces.ravel()
    n = np.stack([np.bincount(idx, weights=np.repeat(fn[:, k], 3), minlength=V) for k in range(3)], axis=1)
    return n / (np.linalg.norm(n, axis=1, keepdims=True) + 1e-12)


def rasterize(meshes: Sequence[np.ndarray], faces: np.ndarray, K: np.ndarray, width: int, height: int, *,
              near_m: float = 0.05, cull_backfaces: bool = True) -> Raster:
    """Rasterise meshes (metres, camera optical frame: x right, y down, z forward) seen by intrinsics K (3, 3).

    Triangles with a vertex nearer than ``near_m`` are dropped (no clipping: they are at the camera anyway);
    back faces (normal pointing away from the camera) are skipped when ``cull_backfaces``.
    """
    H, W = int(height), int(width)
    K = np.asarray(K, dtype=np.float64)
    faces = np.asarray(faces)
    depth = np.full(H * W, np.inf, dtype=np.float32)
    face_buf = np.full(H * W, -1, dtype=np.int32)
    mesh_buf = np.full(H * W, -1, dtype=np.int16)
    bary_buf = np.zeros((H * W, 3), dtype=np.float32)

    uv_all, iz_all, fid_all, mid_all = [], [], [], []
    for m, verts in enumerate(meshes):
        tri = np.asarray(verts, dtype=np.float64)[faces]  # (F, 3, 3)
        keep = (tri[:, :, 2] > near_m).all(axis=1)
        if cull_backfaces:
            normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            keep &= (normal * tri.mean(axis=1)).sum(1) < 0
        idx = np.nonzero(keep)[0]
        tri = tri[idx]
        uv = project(tri, K)  # (F, 3, 2) pixels; every vertex is beyond near_m
        lo, hi = uv.min(axis=1), uv.max(axis=1)
        on = (hi[:, 0] >= 0) & (lo[:, 0] < W) & (hi[:, 1] >= 0) & (lo[:, 1] < H)
        uv_all.append(uv[on])
        iz_all.append(1.0 / tri[on, :, 2])
        fid_all.append(idx[on])
        mid_all.append(np.full(int(on.sum()), m))
    if not uv_all or sum(len(u) for u in uv_all) == 0:
        return Raster(face_buf.reshape(H, W), mesh_buf.reshape(H, W), depth.reshape(H, W),
                      bary_buf.reshape(H, W, 3))
    uv, iz = np.concatenate(uv_all), np.concatenate(iz_all)
    fid, mid = np.concatenate(fid_all), np.concatenate(mid_all)

    # pixel-centre ranges inside each bounding box
    x0 = np.clip(np.ceil(uv[..., 0].min(1) - 0.5), 0, W).astype(np.int64)
    x1 = np.clip(np.floor(uv[..., 0].max(1) - 0.5), -1, W - 1).astype(np.int64)
    y0 = np.clip(np.ceil(uv[..., 1].min(1) - 0.5), 0, H).astype(np.int64)
    y1 = np.clip(np.floor(uv[..., 1].max(1) - 0.5), -1, H - 1).astype(np.int64)
    bw, bh = np.maximum(x1 - x0 + 1, 0), np.maximum(y1 - y0 + 1, 0)
    d1, d2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    ok = (bw * bh > 0) & (np.abs(det) > 1e-12)
    sel = np.nonzero(ok)[0]
    count = (bw * bh)[sel]
    inv = np.stack([d2[:, 1], -d2[:, 0], -d1[:, 1], d1[:, 0]], axis=1) / np.where(ok, det, 1.0)[:, None]

    # chunks of triangles with a bounded number of (triangle, pixel) pairs
    ends = np.cumsum(count)
    start = 0
    while start < len(sel):
        stop = max(start + 1, int(np.searchsorted(ends, (ends[start - 1] if start else 0) + _CHUNK_PAIRS)))
        t_idx = sel[start:stop]
        n = count[start:stop]
        tri_of = np.repeat(np.arange(len(t_idx)), n)
        local = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        t = t_idx[tri_of]
        px = x0[t] + local % bw[t]
        py = y0[t] + local // bw[t]
        rx, ry = px + 0.5 - uv[t, 0, 0], py + 0.5 - uv[t, 0, 1]
        l1 = inv[t, 0] * rx + inv[t, 1] * ry
        l2 = inv[t, 2] * rx + inv[t, 3] * ry
        l0 = 1.0 - l1 - l2
        inside = (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
        t, px, py, l0, l1, l2 = t[inside], px[inside], py[inside], l0[inside], l1[inside], l2[inside]
        w = np.stack([l0, l1, l2], axis=1) * iz[t]  # perspective-correct: attributes / z are linear on screen
        inv_z = w.sum(1)
        z = (1.0 / inv_z).astype(np.float32)
        key = py * W + px
        before = depth[key]
        np.minimum.at(depth, key, z)
        win = (z == depth[key]) & (z < before)
        k = key[win]
        face_buf[k] = fid[t[win]]
        mesh_buf[k] = mid[t[win]]
        bary_buf[k] = (w[win] / inv_z[win, None]).astype(np.float32)
        start = stop
    return Raster(face_buf.reshape(H, W), mesh_buf.reshape(H, W), depth.reshape(H, W), bary_buf.reshape(H, W, 3))

"""A small CPU mesh renderer for overlays and synthetic images (numpy + OpenCV).

Flat shading with a head light (Lambert on each face normal), occlusion by the painter's algorithm: all
front-facing triangles of all meshes are sorted far to near by their centroid depth and filled in that
order with sub-pixel precision. Exact for the non-interpenetrating, closed meshes it is used for (people
apart from each other); triangles with a vertex closer than ``near_m`` to the camera plane are skipped.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from hmr_ros.geometry.projection import project
from hmr_ros.palette import person_color_u8

__all__ = ["render_meshes"]

_SUBPIXEL_BITS = 4  # cv2 fixed-point vertices: 1/16 px
_AMBIENT = 0.35


def render_meshes(
    image: np.ndarray,
    meshes: Sequence[np.ndarray],
    faces: np.ndarray,
    K: np.ndarray,
    colors: Sequence[tuple[int, int, int]] | None = None,
    alpha: float = 0.8,
    *,
    near_m: float = 0.05,
    cull_backfaces: bool = True,
) -> np.ndarray:
    """Draw meshes over an image.

    Args:
        image: (H, W, 3) uint8 RGB; not modified.
        meshes: list of (V, 3) vertex arrays, metres, camera optical frame (x right, y down, z forward).
        faces: (F, 3) integer vertex indices shared by all meshes, outward (counter-clockwise) winding.
        K: (3, 3) camera intrinsics.
        colors: one RGB 0-255 tuple per mesh, or None for :func:`hmr_ros.palette.person_color_u8` ``(i)``
            (pass ``hmr_ros.palette.people_colors_u8(ids)`` for tracked people, as RViz colours them).
        alpha: opacity of the meshes in [0, 1].
        near_m: triangles with any vertex at z < near_m are not drawn (behind or at the camera).
        cull_backfaces: skip triangles facing away from the camera (right for closed meshes, halves work).
    Returns:
        (H, W, 3) uint8 RGB image.
    """
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(
            f"render_meshes: image must be a (H, W, 3) uint8 RGB array, got "
            f"{getattr(image, 'shape', None)} {getattr(image, 'dtype', type(image).__name__)}"
        )
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all():
        raise ValueError(f"render_meshes: K must be a finite (3, 3) matrix, got shape {K.shape}")
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"render_meshes: faces must be (F, 3), got {faces.shape}")
    if colors is not None and len(colors) != len(meshes):
        raise ValueError(f"render_meshes: {len(colors)} colors for {len(meshes)} meshes")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"render_meshes: alpha must be in [0, 1], got {alpha}")
    H, W = image.shape[:2]

    polys, depths, cols = [], [], []
    for i, verts in enumerate(meshes):
        verts = np.asarray(verts, dtype=np.float64)
        if verts.ndim != 2 or verts.shape[1] != 3:
            raise ValueError(f"render_meshes: mesh {i} must be (V, 3), got {verts.shape}")
        tri = verts[faces]  # (F, 3, 3)
        keep = (tri[:, :, 2] > near_m).all(axis=1) & np.isfinite(tri).all(axis=(1, 2))
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        centroid = tri.mean(axis=1)
        # cosine between the face normal and the direction towards the camera (head light)
        facing = -(normal * centroid).sum(1) / (
            np.linalg.norm(normal, axis=1) * np.linalg.norm(centroid, axis=1) + 1e-12
        )
        if cull_backfaces:
            keep &= facing > 0
        tri, facing, centroid = tri[keep], facing[keep], centroid[keep]
        if len(tri) == 0:
            continue
        uv = project(tri, K)  # (F, 3, 2) pixels; every vertex is beyond near_m
        lo, hi = uv.min(axis=1), uv.max(axis=1)
        on_screen = (hi[:, 0] >= 0) & (lo[:, 0] < W) & (hi[:, 1] >= 0) & (lo[:, 1] < H)
        on_screen &= (np.abs(uv) < 1e6).all(axis=(1, 2))  # keeps cv2's fixed-point coordinates in range
        uv, facing, centroid = uv[on_screen], facing[on_screen], centroid[on_screen]
        base = np.asarray(person_color_u8(i) if colors is None else colors[i], dtype=np.float64)
        shade = _AMBIENT + (1.0 - _AMBIENT) * np.abs(facing)
        polys.append(np.round(uv * (1 << _SUBPIXEL_BITS)).astype(np.int32))
        depths.append(centroid[:, 2])
        cols.append(np.clip(shade[:, None] * base, 0, 255).astype(np.uint8))

    out = image.copy()
    if not polys:
        return out
    polys_all = np.concatenate(polys)
    order = np.argsort(-np.concatenate(depths), kind="stable")  # far to near
    polys_all = polys_all[order]
    cols_all = np.concatenate(cols)[order]
    # 4th channel marks covered pixels for blending
    canvas = np.zeros((H, W, 4), dtype=np.uint8)
    fill = cv2.fillConvexPoly
    for poly, c in zip(polys_all, cols_all.tolist()):
        fill(canvas, poly, (c[0], c[1], c[2], 255), cv2.LINE_8, _SUBPIXEL_BITS)
    mask = canvas[..., 3] > 0
    blended = alpha * canvas[mask, :3].astype(np.float32) + (1.0 - alpha) * image[mask].astype(np.float32)
    out[mask] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out

"""Put a regressed SMPL body where the image shows it: translation and limbs fitted to 2D keypoints.

The SMPL head regresses pose, shape and a weak-perspective camera from one token per person; its 2D accuracy is
what the training data taught it. A backbone with keypoint heads (MoveNet, trained on COCO's real photos) locates
the same person's joints in the image far better (on vtest.avi, never trained on: PCK@0.5 0.90 for MoveNet's
keypoints against 0.63 for the regressed body's). This module keeps the network's 3D (pose, shape, the depth
order of limbs) and takes the 2D from the keypoints, in two closed-form steps, in the camera optical frame
(x right, y down, z forward, metres):

1. ``fit_translation``: the body's translation t minimising the reprojection error of its 12 COCO body joints
   and its head (linear least squares: for a joint X + t to project to pixel (u, v),
   ``fx (X+t)_x + s (X+t)_y + (cx - u) (X+t)_z = 0`` and ``fy (X+t)_y + (cy - v) (X+t)_z = 0``), weighted by
   keypoint score, pulled weakly towards the network's own t. This fixes the depth of people of any size: the
   network's scale is only as good as the people it saw in training (on the opencv-doc photos its meshes were
   ~0.7x too small).
2. ``fit_limbs``: the neck, shoulders, elbows, hips and knees are turned, each bone by the smallest rotation, so
   that its child joint is seen along its keypoint's camera ray (``bone_direction``: how far the bone leans
   towards the camera comes from the network for bones short in the image, from the image for long ones). Bone
   lengths, twist and every unobserved joint stay as regressed.

Step 1 alone is the default (``keypoint_fit: translation``): it moves no joint against another, so the network's 3D
pose is kept whole. Step 2 (``limbs``) makes the 2D overlay tighter at a price in 3D, measured (docs/training.md,
"Keypoint fit"): on vtest.avi PCK@0.5 0.81 -> 0.85 but PA-MPJPE against the teacher 88 -> 103 mm, and on the varied
synthetic split, whose 3D is exact, PA-MPJPE 95 -> 130 mm with 5x the 3D acceleration: a turn per frame from noisy
keypoints is not a better pose.

Keypoints below ``MIN_SCORE`` are not used; a person with fewer than ``MIN_JOINTS`` usable body joints keeps the
network's translation. A limb correction above ``MAX_TURN`` is refused (a keypoint of another person, most likely).
"""
from __future__ import annotations

import math

import torch

from hmr_ros.smpl.kinematic_tree import NUM_JOINTS, SMPL_PARENTS

#: what the Estimator fits (``EstimatorConfig.keypoint_fit``): nothing, step 1, or steps 1 and 2
FIT_MODES = ("off", "translation", "limbs")
#: COCO-17 index -> SMPL joint of the 12 body joints (shoulders, elbows, wrists, hips, knees, ankles)
COCO_TO_SMPL = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 11: 1, 12: 2, 13: 4, 14: 5, 15: 7, 16: 8}
#: (parent, child) bones turned onto the child's keypoint, parents first: shoulder -> elbow -> wrist,
#: hip -> knee -> ankle. Not the collars: a COCO shoulder is on the skin, SMPL's inside the joint, and over the
#: collar's ~12 cm bone that offset alone turns it by tens of degrees.
LIMBS = ((12, 15), (16, 18), (17, 19), (18, 20), (19, 21), (1, 4), (2, 5), (4, 7), (5, 8))
#: SMPL's head joint (the skull's centre, level with the ears) is placed at the midpoint of COCO's ears
HEAD, EARS = 15, (3, 4)
#: keypoint score below which a keypoint is not used (MoveNet's scores of visible joints are mostly above 0.5)
MIN_SCORE = 0.3
#: usable body joints needed to fit the translation (two fix scale and position; a few more make it robust)
MIN_JOINTS = 4
#: weight of the pull towards the network's translation, as a share of one joint's
PRIOR_WEIGHT = 0.1
#: largest bone turn accepted, radians
MAX_TURN = math.radians(150.0)
#: the bone length in image pixels at which the keypoints' and the network's foreshortening weigh the same
#: (``bone_direction``): a 30 px shin of a far pedestrian mostly keeps the network's, a 150 px arm takes the image's
FORESHORTENING_PX = 40.0

_SMPL_OF = torch.tensor(list(COCO_TO_SMPL.values()))
_COCO_OF = torch.tensor(list(COCO_TO_SMPL.keys()))


def _descendants() -> list[list[int]]:
    """Per SMPL joint: itself and every joint below it."""
    below = [[j] for j in range(NUM_JOINTS)]
    for j in range(NUM_JOINTS - 1, 0, -1):
        below[SMPL_PARENTS[j]].extend(below[j])
    return below


_BELOW = _descendants()


def smpl_keypoints(keypoints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """COCO-17 keypoints (N, 17, 3) (u, v pixels, score) -> per SMPL joint (N, 24, 2) pixels and (N, 24) score
    (0 where SMPL has no COCO counterpart): the 12 body joints and the head (``EARS``' midpoint, the lower of
    their scores)."""
    n = keypoints.shape[0]
    uv = keypoints.new_zeros(n, NUM_JOINTS, 2)
    score = keypoints.new_zeros(n, NUM_JOINTS)
    uv[:, _SMPL_OF] = keypoints[:, _COCO_OF, :2]
    score[:, _SMPL_OF] = keypoints[:, _COCO_OF, 2]
    ears = keypoints[:, list(EARS)]
    uv[:, HEAD] = ears[..., :2].mean(1)
    score[:, HEAD] = ears[..., 2].amin(1)
    return uv, score


def fit_translation(joints: torch.Tensor, uv: torch.Tensor, weight: torch.Tensor, K: torch.Tensor,
                    prior: torch.Tensor) -> torch.Tensor:
    """Translations (N, 3) metres that project ``joints + t`` onto ``uv``.

    Args:
        joints: (N, J, 3) posed joints, model frame (metres, camera axes, not translated).
        uv: (N, J, 2) target pixels; weight: (N, J) >= 0 (0: not used).
        K: (3, 3) intrinsics (fx, skew, cx / fy, cy).
        prior: (N, 3) the network's translations; each person is pulled to it with ``PRIOR_WEIGHT`` and keeps it
            when fewer than ``MIN_JOINTS`` weights are positive or the fit puts it behind the camera.
    """
    fx, s, cx, fy, cy = K[0, 0], K[0, 1], K[0, 2], K[1, 1], K[1, 2]
    x, y, z = joints.unbind(-1)
    du, dv = cx - uv[..., 0], cy - uv[..., 1]
    zero, f = torch.zeros_like(du), torch.full_like(du, 1.0)
    # two rows per joint, each scaled by 1/depth of the network's guess so that residuals are pixels
    depth = (z + prior[:, None, 2]).clamp_min(0.1)
    a = torch.cat([torch.stack([fx * f, s * f, du], -1), torch.stack([zero, fy * f, dv], -1)], 1)  # (N, 2J, 3)
    b = torch.cat([-(fx * x + s * y + du * z), -(fy * y + dv * z)], 1)                             # (N, 2J)
    w = (weight / depth).repeat(1, 2)
    a, b = a * w[..., None], b * w
    # the prior, in pixels as well: a sideways step moves every joint by f/depth per metre, a step in depth only
    # changes the body's spread (f * spread / depth^2 per metre), so the pull is weighed per axis
    focal = 0.5 * (fx + fy)
    z0 = depth.mean(1)
    spread = (joints - joints.mean(1, keepdim=True)).norm(dim=-1).mean(1)
    reg = PRIOR_WEIGHT * focal * torch.stack([1 / z0, 1 / z0, spread / z0 ** 2], -1)             # (N, 3)
    # (+ a floor on the diagonal: a person with no usable joint and a degenerate skeleton must not be singular)
    ata = a.transpose(1, 2) @ a + torch.diag_embed(reg ** 2 + 1e-9)
    atb = (a.transpose(1, 2) @ b[..., None])[..., 0] + reg ** 2 * prior
    t = torch.linalg.solve(ata, atb)
    ok = ((weight > 0).sum(1) >= MIN_JOINTS) & torch.isfinite(t).all(1) & (t[:, 2] + z[:, 0] > 0.1)
    return torch.where(ok[:, None], t, prior)


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _rotation_between(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest rotations (N, 3, 3) turning directions a (N, 3) onto b (N, 3), and their angles (N,)."""
    a, b = _unit(a), _unit(b)
    axis = torch.cross(a, b, dim=-1)
    sin, cos = axis.norm(dim=-1), (a * b).sum(-1)
    k = axis / sin.clamp_min(1e-12)[:, None]
    kx = torch.zeros(a.shape[0], 3, 3, dtype=a.dtype, device=a.device)
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx = kx - kx.transpose(1, 2)
    eye = torch.eye(3, dtype=a.dtype, device=a.device).expand_as(kx)
    return eye + sin[:, None, None] * kx + (1 - cos)[:, None, None] * (kx @ kx), torch.atan2(sin, cos)


def _slerp(a: torch.Tensor, b: torch.Tensor, share: torch.Tensor) -> torch.Tensor:
    """Unit directions (N, 3) a share (N,) of the way from unit a to unit b along the great circle."""
    angle = torch.arccos((a * b).sum(-1).clamp(-1.0, 1.0))
    sin = torch.sin(angle)
    small = sin < 1e-9
    wa = torch.where(small, 1 - share, torch.sin((1 - share) * angle) / sin.clamp_min(1e-9))
    wb = torch.where(small, share, torch.sin(share * angle) / sin.clamp_min(1e-9))
    return _unit(wa[:, None] * a + wb[:, None] * b)


def _global_rotations(rotmats: torch.Tensor) -> list[torch.Tensor]:
    out = [rotmats[:, 0]]
    for j in range(1, NUM_JOINTS):
        out.append(out[SMPL_PARENTS[j]] @ rotmats[:, j])
    return out


def bone_direction(p: torch.Tensor, c: torch.Tensor, ray: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Where a bone from parent p (N, 3) should point so its child (now at c (N, 3)) is seen along the unit
    camera ``ray`` (N, 3) of its keypoint: (N, 3) unit directions (step 2 of the module docstring).

    Two readings of the keypoint, weighed by how long the bone looks in the image:
    - *in-plane*: the child keeps its depth offset from the parent (the network's), and the bone turns towards
      the ray point at the child's depth; the 2D direction comes from the keypoint, the foreshortening from the
      network;
    - *on the ray*: the child on the ray at the bone's length from p (of the two such points, the one nearer the
      child's depth; none, when the ray passes farther than the bone reaches: its nearest point). The 2D length
      says the foreshortening too, but a few pixels of keypoint error tilt a short bone by tens of degrees, and
      COCO's and SMPL's joints sit a little apart.
    The second gets the share l^2 / (l^2 + FORESHORTENING_PX^2) of the turn between the two, l the bone's length
    in pixels at the parent's depth.
    """
    d = c - p
    length = d.norm(dim=-1)
    # in-plane
    at_depth = ray * (c[:, 2] / ray[:, 2].clamp_min(1e-9))[:, None]
    sideways = _unit(at_depth[:, :2] - p[:, :2]) * (length ** 2 - d[:, 2] ** 2).clamp_min(0).sqrt()[:, None]
    in_plane = _unit(torch.cat([sideways, d[:, 2:]], -1))
    # on the ray
    along = (ray * p).sum(-1)  # ray parameter of the point nearest the parent
    disc = along ** 2 - (p * p).sum(-1) + length ** 2
    root = disc.clamp_min(0).sqrt()
    near, far = (along - root)[:, None] * ray, (along + root)[:, None] * ray
    point = torch.where(((near[:, 2] - c[:, 2]).abs() <= (far[:, 2] - c[:, 2]).abs())[:, None], near, far)
    point = torch.where((disc >= 0)[:, None], point, along[:, None] * ray)
    on_ray = _unit(point - p)
    pixels = length * 0.5 * (K[0, 0] + K[1, 1]) / p[:, 2].clamp_min(1e-3)
    share = pixels ** 2 / (pixels ** 2 + FORESHORTENING_PX ** 2)
    return _slerp(in_plane, on_ray, share)


def fit_limbs(rotmats: torch.Tensor, positions: torch.Tensor, uv: torch.Tensor, weight: torch.Tensor,
              K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn the ``LIMBS`` towards their keypoints (step 2 of the module docstring), parents first.

    Args:
        rotmats: (N, 24, 3, 3) local joint rotations (joint 0 the global orientation in the camera frame).
        positions: (N, 24, 3) posed and translated joints, camera optical frame, metres.
        uv: (N, 24, 2) keypoint pixels per SMPL joint; weight: (N, 24), a joint is a target where > 0.
        K: (3, 3) intrinsics.
    Returns:
        (rotmats (N, 24, 3, 3), positions (N, 24, 3)) after the turns: a turn rotates the parent joint's frame,
        so the whole sub-tree below it follows and every bone keeps its length.
    """
    glob = _global_rotations(rotmats)
    pos = positions.clone()
    rays = _unit(torch.linalg.solve(K, torch.cat([uv, torch.ones_like(uv[..., :1])], -1).transpose(1, 2))
                 .transpose(1, 2))                                                              # (N, 24, 3)
    eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device).expand(rotmats.shape[0], 3, 3)
    for parent, child in LIMBS:
        use = weight[:, child] > 0
        if not bool(use.any()):
            continue
        p, c = pos[:, parent], pos[:, child]
        turn, angle = _rotation_between(c - p, bone_direction(p, c, rays[:, child], K))
        use = use & (angle <= MAX_TURN) & torch.isfinite(angle) & ((c - p).norm(dim=-1) > 1e-6)
        turn = torch.where(use[:, None, None], turn, eye)
        for j in _BELOW[parent]:
            glob[j] = turn @ glob[j]
            if j != parent:
                pos[:, j] = p + (turn @ (pos[:, j] - p)[..., None])[..., 0]
    local = [glob[0]] + [glob[SMPL_PARENTS[j]].transpose(1, 2) @ glob[j] for j in range(1, NUM_JOINTS)]
    return torch.stack(local, 1), pos


def fit_to_keypoints(joints: torch.Tensor, rotmats: torch.Tensor, translation: torch.Tensor,
                     keypoints: torch.Tensor, K: torch.Tensor, limbs: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 1, and step 2 with ``limbs``: (rotmats (N, 24, 3, 3), translation (N, 3)) of bodies whose joints
    (N, 24, 3) (model frame, the body model's ``joints``) were regressed with ``rotmats`` and ``translation``,
    fitted to COCO-17 ``keypoints`` (N, 17, 3) (image pixels and score) seen through intrinsics ``K`` (3, 3).
    Computed in float64; without ``limbs`` the rotations come back unchanged."""
    dtype = rotmats.dtype
    K = torch.as_tensor(K, device=joints.device)
    joints, rotmats, translation, keypoints, K = (x.double() for x in (joints, rotmats, translation, keypoints, K))
    uv, score = smpl_keypoints(keypoints)
    weight = torch.where(score >= MIN_SCORE, score, torch.zeros_like(score))
    t = fit_translation(joints, uv, weight, K, translation)
    if not limbs:
        return rotmats.to(dtype), t.to(dtype)
    rot, _ = fit_limbs(rotmats, joints + t[:, None], uv, weight, K)
    return rot.to(dtype), t.to(dtype)


def place_bodies(body_model, betas: torch.Tensor, rotmats: torch.Tensor, root: torch.Tensor,
                 keypoints: torch.Tensor | None, K, mode: str = "translation"):
    """Pose N bodies and place them: (rotmats (N, 24, 3, 3), translation (N, 3), the body model's output).

    ``root`` (N, 3) is the network's root joint in the camera frame (``camera.perspective_root``); ``keypoints``
    (N, 17, 3) image pixels and score, or None (no keypoint heads); ``mode`` one of ``FIT_MODES``. Without a fit
    the translation puts the root where the network says; with one, ``fit_to_keypoints`` decides.
    """
    if mode != "off" and keypoints is not None and bool((keypoints[..., 2] > 0).any()):
        joints = body_model.joints(betas, rotmats)
        rotmats, translation = fit_to_keypoints(joints, rotmats, root - joints[:, 0], keypoints, K,
                                                limbs=mode == "limbs")
        return rotmats, translation, body_model(betas, rotmats)
    out = body_model(betas, rotmats)
    return rotmats, root - out.joints[:, 0], out

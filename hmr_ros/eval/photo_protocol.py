"""People in real photos against hand-drawn boxes: ``evaluate --dataset photos --root FILE.json``.

FILE.json (``test/data/photo_boxes.json`` is one)::

    {"format": "hmr_ros.photo_boxes/1",
     "media_dir": "DIR",            optional; default: the hmr_ros media cache (engine_cache.default_cache_dir()/media,
                                    where scripts/fetch_media.sh puts OpenCV's photos); relative to FILE's folder
     "photos": [{"image": "messi5.jpg",               relative paths resolve against media_dir
                 "people": [[x0, y0, x1, y1], ...],    every person with most of the body visible, drawn by hand
                 "ignore": [[x0, y0, x1, y1], ...],    optional: crowds, people mostly hidden
                 "note": "..."}, ...]}                 optional, for the reader

Boxes are image pixels, x0 < x1 and y0 < y1, the people's boxes clipped to the image as a person cut by its border is
drawn. Per photo the node's per-frame path (``Pipeline``, the caller's network and tracking) sees the image as a
still clip (the window filled with it: ``image_frames.predict_still``) with the default intrinsics, and each published
``Body.box`` (the projected mesh extent, clipped to the image like the drawn boxes) is a prediction:

- predictions and people are matched one to one (Hungarian, most pairs first, then the highest total IoU), a pair
  needing IoU >= ``MATCH_IOU`` (0.5): a matched person is *found*, an unmatched one *missed*;
- an unmatched prediction is *ignored* (neither right nor wrong) when at least ``IGNORE_INSIDE`` (50 %) of its area
  lies inside one ``ignore`` box, else *false*. Matching comes first, so a prediction may be found even inside an
  ignore box; a poor prediction of a person who stands in front of an ignored crowd may be ignored rather than false.
- recall = found / people; precision = found / (found + false) (0 when nothing is predicted, as in the keypoint
  protocol); mean IoU over the found people.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "hmr_ros.photo_boxes/1"
MATCH_IOU = 0.5
IGNORE_INSIDE = 0.5


@dataclass
class Photo:
    """One photo of the file: ``people`` (P, 4) and ``ignore`` (G, 4) float64 boxes x0, y0, x1, y1 in pixels."""

    image: Path
    people: np.ndarray
    ignore: np.ndarray
    note: str = ""


@dataclass
class PhotoScore:
    """One photo's counts. ``ious``: per drawn person, in the file's order, the IoU of the prediction matched to it,
    or for a missed person the best IoU any prediction reached (0 when none overlaps), to tell a near miss;
    ``matched``: per drawn person, found or not."""

    image: str
    people: int
    predictions: int
    found: int
    missed: int
    false: int
    ignored: int
    ious: list[float] = field(default_factory=list)
    matched: list[bool] = field(default_factory=list)


@dataclass
class PhotoResult:
    photos: list[PhotoScore] = field(default_factory=list)
    people: int = 0
    predictions: int = 0
    found: int = 0
    missed: int = 0
    false: int = 0
    ignored: int = 0               # predictions inside ignore boxes, unmatched
    recall: float = 0.0
    precision: float = 0.0
    mean_iou: float = float("nan")  # over the found people
    source: str = ""


def default_media_dir() -> Path:
    """Where ``scripts/fetch_media.sh`` puts the photos: the hmr_ros cache's ``media`` folder."""
    from hmr_ros.backends.engine_cache import default_cache_dir

    return default_cache_dir() / "media"


def _boxes(value, what: str) -> np.ndarray:
    boxes = np.asarray(value, np.float64)
    if boxes.size == 0:
        return np.zeros((0, 4))
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all() \
            or (boxes[:, 2:] <= boxes[:, :2]).any():
        raise ValueError(f"{what}: expected a list of [x0, y0, x1, y1] boxes with x0 < x1 and y0 < y1")
    return boxes


def read_photo_boxes(path: str | Path) -> tuple[list[Photo], Path]:
    """The photos of a photo-boxes file and the media folder their relative paths resolved against. ValueError (one
    line) names the file and what is wrong: not this format, a malformed entry, a missing image."""
    from hmr_ros.datasets.json_file import load_json_object

    path = Path(path)
    doc = load_json_object(path, "photo boxes")
    if doc.get("format") != FORMAT:
        raise ValueError(f"photo boxes {path}: format {doc.get('format')!r}, expected {FORMAT!r}")
    media = Path(doc["media_dir"]) if doc.get("media_dir") else default_media_dir()
    media = media if media.is_absolute() else path.parent / media
    if not isinstance(doc.get("photos"), list) or not doc["photos"]:
        raise ValueError(f"photo boxes {path}: expected a non-empty list \"photos\"")
    photos = []
    for n, entry in enumerate(doc["photos"], 1):
        what = f"photo boxes {path}: photo {n}"
        try:
            image = Path(entry["image"])
            people = _boxes(entry.get("people", []), f"{what} ({entry['image']}) \"people\"")
            ignore = _boxes(entry.get("ignore", []), f"{what} ({entry['image']}) \"ignore\"")
            note = str(entry.get("note", ""))
        except (KeyError, TypeError):
            raise ValueError(f"{what}: expected {{\"image\": ..., \"people\": [[x0, y0, x1, y1], ...]}}") from None
        except ValueError as e:
            if str(e).startswith(what):
                raise
            raise ValueError(f"{what} ({entry['image']}): boxes must be numbers") from None
        image = image if image.is_absolute() else media / image
        if not image.is_file():
            hint = ": run bash scripts/fetch_media.sh" if not doc.get("media_dir") else ""
            raise ValueError(f"{what}: image {image} is missing{hint}")
        photos.append(Photo(image, people, ignore, note))
    return photos, media


def clip_boxes(boxes, width: int, height: int) -> np.ndarray:
    """(N, 4) boxes clipped to a ``width`` x ``height`` image (a non-finite box becomes empty): the drawn boxes stop at
    the border, the projected mesh of a person cut by it does not."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    bad = ~np.isfinite(boxes).all(axis=1)
    out = np.clip(np.nan_to_num(boxes), 0.0, [width, height, width, height])
    out[bad] = 0.0
    return out


def score_photo(predicted: np.ndarray, people: np.ndarray, ignore: np.ndarray, image: str = "") -> PhotoScore:
    """One photo's :class:`PhotoScore` (rules in the module docstring) from (N, 4) predicted, (P, 4) drawn and (G, 4)
    ignore boxes, pixels."""
    from scipy.optimize import linear_sum_assignment

    from hmr_ros.tracking.association import box_iou

    predicted = np.asarray(predicted, np.float64).reshape(-1, 4)
    people = np.asarray(people, np.float64).reshape(-1, 4)
    ignore = np.asarray(ignore, np.float64).reshape(-1, 4)
    iou = box_iou(predicted, people)                                   # (N, P)
    matched: dict[int, int] = {}                                       # person -> prediction
    if iou.size:
        # inadmissible pairs cost more than any set of admissible ones: the assignment keeps the most pairs first
        rows, cols = linear_sum_assignment(np.where(iou >= MATCH_IOU, 1.0 - iou, 1e6))
        matched = {int(j): int(i) for i, j in zip(rows, cols) if iou[i, j] >= MATCH_IOU}
    ious = [float(iou[matched[j], j]) if j in matched else float(iou[:, j].max(initial=0.0))
            for j in range(len(people))]
    unmatched = set(range(len(predicted))) - set(matched.values())
    ignored = sum(int(_inside(predicted[i], ignore) >= IGNORE_INSIDE) for i in unmatched)
    found = len(matched)
    return PhotoScore(image, len(people), len(predicted), found, len(people) - found,
                      len(predicted) - found - ignored, ignored, [round(v, 3) for v in ious],
                      [j in matched for j in range(len(people))])


def _inside(box: np.ndarray, regions: np.ndarray) -> float:
    """The largest share of ``box``'s area inside one of ``regions`` (0 for an empty box)."""
    area = np.prod(np.clip(box[2:] - box[:2], 0.0, None))
    if area <= 0 or not len(regions):
        return 0.0
    lo, hi = np.maximum(regions[:, :2], box[:2]), np.minimum(regions[:, 2:], box[2:])
    return float(np.prod(np.clip(hi - lo, 0.0, None), axis=1).max() / area)


def total(photos: list[PhotoScore], source: str = "") -> PhotoResult:
    """The totals of the module docstring over the photos."""
    r = PhotoResult(photos=photos, source=source)
    for name in ("people", "predictions", "found", "missed", "false", "ignored"):
        setattr(r, name, sum(getattr(p, name) for p in photos))
    r.recall = r.found / r.people if r.people else 0.0
    r.precision = r.found / (r.found + r.false) if r.found + r.false else 0.0
    found_ious = [iou for p in photos for iou, hit in zip(p.ious, p.matched) if hit]
    r.mean_iou = float(np.mean(found_ious)) if found_ious else float("nan")
    return r


@dataclass
class _Still:
    """A photo as ``image_frames.predict_still`` reads it: the path and (3, 3) K."""

    image_path: Path
    K: np.ndarray


def evaluate_photos(config, root, tracking=None, progress=None) -> PhotoResult:
    """Run the node's per-frame path over every photo of the file ``root`` (the network of ``config``, the tracker
    of ``tracking`` or none) and score the people it publishes. With tracking, a track shows only once confirmed
    (``min_hits`` frames): a window shorter than that publishes nobody."""
    import cv2

    from hmr_ros.camera import default_intrinsics
    from hmr_ros.eval.image_frames import predict_still
    from hmr_ros.pipeline import Pipeline, PipelineConfig

    photos, media = read_photo_boxes(root)
    pipeline = Pipeline(PipelineConfig(config, tracking))
    scores = []
    for n, photo in enumerate(photos, 1):
        bgr = cv2.imread(str(photo.image), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"photo {photo.image} is unreadable")
        height, width = bgr.shape[:2]
        still = _Still(photo.image, default_intrinsics(width, height))
        bodies = predict_still(pipeline, still, config.network.window, "photo")
        boxes = clip_boxes([b.box for b in bodies], width, height)
        scores.append(score_photo(boxes, photo.people, photo.ignore, photo.image.name))
        if progress is not None:
            progress(f"[{n}/{len(photos)}] {photo.image.name}: {len(bodies)} people published")
    return total(scores, f"{root} ({len(photos)} photos from {media})")


def format_photos(r: PhotoResult) -> str:
    """A markdown table: one row per photo, then the totals."""
    lines = [f"photo protocol on {r.source}: {r.people} people drawn, IoU >= {MATCH_IOU} to count as found",
             "| photo | people | predictions | found | missed | false | ignored | IoU per person |",
             "|---|---|---|---|---|---|---|---|"]
    for p in r.photos:
        lines.append(f"| {p.image} | {p.people} | {p.predictions} | {p.found} | {p.missed} | {p.false} | {p.ignored} "
                     f"| {', '.join(f'{v:.2f}' for v in p.ious) or '-'} |")
    mean = f"mean over found {r.mean_iou:.2f}" if r.found else "-"
    lines.append(f"| **total** | {r.people} | {r.predictions} | {r.found} | {r.missed} | {r.false} | {r.ignored} | "
                 f"{mean} |")
    lines.append(f"recall {r.recall:.3f}, precision {r.precision:.3f}")
    return "\n".join(lines)


def result_json(r: PhotoResult) -> str:
    return json.dumps(asdict(r), indent=1)

"""AGORA's pickled ground-truth tables -> the npz files ``datasets.agora`` reads (``convert-agora``).

AGORA's tables are pandas DataFrames in pickles; loading a pickle runs whatever code it names. This converter is
the one place hmr_ros unpickles a file it did not write, and only when the caller says the files are trusted
(``trust=True``, ``--trust-pickles``): the user's own download from AGORA's site. It needs pandas
(``pip install pandas``), which hmr_ros itself does not. Each table becomes ``<out>/<table stem>.npz`` in the layout
the module doc of ``datasets.agora`` gives, without pickles.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hmr_ros.datasets.agora import SMPL_VERTICES

COLUMNS = ("imgPath", "gt_joints_2d", "gt_joints_3d", "gt_verts", "occlusion", "isValid", "kid")


def _rows(values, what: str, path: Path, image: str) -> list[np.ndarray]:
    try:
        return [np.asarray(v, np.float32) for v in values]
    except (TypeError, ValueError) as e:
        raise ValueError(f"AGORA table {path}: {what} of {image} is not numeric ({e})") from None


def convert_table(table: str | Path, out_dir: str | Path, trust: bool = False,
                  resolution: tuple[int, int] = (3840, 2160)) -> Path:
    """Convert one pickled AGORA SMPL table; returns the npz written. ``resolution``: the image size the table's
    ``gt_joints_2d`` are in (AGORA's tables: 3840 x 2160)."""
    table, out_dir = Path(table), Path(out_dir)
    if not trust:
        raise ValueError(f"AGORA table {table} is a pickle, and loading a pickle can run code: convert only files "
                         "you downloaded from AGORA yourself, and say so with --trust-pickles (trust=True)")
    try:
        import pandas
    except ImportError:
        raise ValueError("convert-agora needs pandas to read AGORA's tables: pip install pandas") from None
    try:
        frame = pandas.read_pickle(table)
    except Exception as e:  # noqa: BLE001  a corrupt or foreign pickle fails in many ways; all mean "not a table"
        raise ValueError(f"AGORA table {table}: cannot read as a pandas pickle ({type(e).__name__}: {e})") from None
    missing = [c for c in COLUMNS if c not in getattr(frame, "columns", ())]
    if missing:
        raise ValueError(f"AGORA table {table}: missing columns {', '.join(missing)} (expected {', '.join(COLUMNS)})")
    images, person, j2, j3, verts, occ, valid, kid = [], [], [], [], [], [], [], []
    for i, row in enumerate(frame[list(COLUMNS)].itertuples(index=False)):
        name = str(row.imgPath)
        people = len(row.gt_joints_3d)
        if not all(len(row[c]) == people for c in range(1, len(COLUMNS))):
            raise ValueError(f"AGORA table {table}: {name} lists different numbers of people per column")
        for what, target, arrays, width in (("gt_joints_2d", j2, row.gt_joints_2d, 2),
                                            ("gt_joints_3d", j3, row.gt_joints_3d, 3)):
            for a in _rows(arrays, what, table, name):
                if a.ndim != 2 or a.shape[0] < 24 or a.shape[1] < width:
                    raise ValueError(f"AGORA table {table}: {what} of {name} has shape {a.shape}, expected (J >= 24, "
                                     f"{width})")
                target.append(a[:24, :width])
        for a in _rows(row.gt_verts, "gt_verts", table, name):
            if a.shape != (SMPL_VERTICES, 3):
                raise ValueError(f"AGORA table {table}: gt_verts of {name} has shape {a.shape}, expected "
                                 f"({SMPL_VERTICES}, 3): only AGORA's SMPL tables convert (not SMPL-X)")
            verts.append(a)
        images.append(name)
        person += [i] * people
        occ += [float(v) for v in row.occlusion]
        valid += [bool(v) for v in row.isValid]
        kid += [bool(v) for v in row.kid]
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{table.stem}.npz"
    p = len(person)
    np.savez_compressed(out, image=np.array(images, dtype=str), person=np.array(person, np.int64),
                        joints2d=np.array(j2, np.float32).reshape(p, 24, 2),
                        joints3d=np.array(j3, np.float32).reshape(p, 24, 3),
                        vertices=np.array(verts, np.float32).reshape(p, SMPL_VERTICES, 3),
                        occlusion=np.array(occ, np.float32), valid=np.array(valid, bool), kid=np.array(kid, bool),
                        width=np.int64(resolution[0]), height=np.int64(resolution[1]))
    return out

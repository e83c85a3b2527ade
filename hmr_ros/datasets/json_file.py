"""A dataset's JSON file, with errors that name the dataset, the file and what went wrong."""
from __future__ import annotations

import json
from pathlib import Path


def load_json_object(path: Path, what: str) -> dict:
    """The JSON object in ``path``; ValueError "<what> <path>: cannot read / not valid JSON / expected a JSON
    object"."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise ValueError(f"{what} {path}: cannot read ({e.strerror or e})") from None
    except ValueError as e:
        raise ValueError(f"{what} {path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path}: expected a JSON object")
    return data

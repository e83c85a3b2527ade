"""On-disk cache of exported ONNX graphs and TensorRT engines: keys, paths and the validity decision.

Exporting SIAM to ONNX takes tens of seconds and building a TensorRT engine minutes, so both are done once and
reused. An artefact is reused only when everything that shaped it is unchanged:

- ONNX graphs (``OnnxKey``): the network weights (hash of the state dict), the graph code (hash of every hmr_ros
  source the export imports, found by following the imports of ``GRAPH_ROOTS``), the PyTorch version (its
  exporter writes the graph), and the architecture (``SIAMConfig.graph_dict()``: width, input size S, window T,
  people K, mode, ...). Run-time choices (``RUNTIME_FIELDS``: the score threshold) are not part of any graph
  and not of the key, so changing them reuses the cached files.
- TensorRT engines (``EngineKey``): the ONNX key of the graph dtype the precision needs (an FP16 engine is built
  from the FP16 graph: TensorRT 11 and TensorRT-RTX networks are strongly typed), the TensorRT flavour and version,
  the compute capabilities the engine targets and, for TensorRT 10/11 engines (specific to the GPU they were built
  on), the GPU name. TensorRT-RTX engines built ahead of time are portable across their targets.

Each cache entry is a folder named by a readable prefix and a digest of the key; beside the artefacts it holds
``key.json`` with the full key and the SHA-256 and size of every artefact. ``check_entry`` decides whether an
entry may be used and, if not, says why (missing, corrupt, mismatched), so the caller can log the reason for a
rebuild. Entries are written into a temporary folder and renamed into place, so a crash or a concurrent writer
never leaves a half-written entry that looks valid. Using an entry touches its ``key.json`` (``touch_entry``), so
its modification time is the entry's last use; ``cache_entries``/``remove_entry`` serve ``python -m hmr_ros cache``.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

KEY_FILE = "key.json"
ONNX_FILES = ("frame_net.onnx", "temporal_net.onnx")
ENGINE_FILES = ("frame_net.engine", "temporal_net.engine")
PRECISIONS = ("fp32", "fp16")
#: Modules the export starts from; every hmr_ros module they import (transitively) shapes the exported graphs.
GRAPH_ROOTS = ("hmr_ros.model.siam", "hmr_ros.backends.export")
PACKAGE_DIR = Path(__file__).resolve().parents[1]   # .../hmr_ros


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/hmr_ros`` (``~/.cache/hmr_ros`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hmr_ros"


def state_dict_hash(module: torch.nn.Module) -> str:
    """SHA-256 (hex, first 16) over every state-dict entry's name, dtype, shape and bytes.

    Covers trained and untrained (seeded) networks alike, and persistent buffers (e.g. the SMPL head's means).
    """
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def _module_path(package_dir: Path, module: str) -> Path | None:
    """File of the hmr_ros module ``module`` (a package's ``__init__.py``), or None when it is not one."""
    base = package_dir.joinpath(*module.split(".")[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported_modules(path: Path, module: str, package: str) -> set[str]:
    """Names of the ``package`` modules that the source at ``path`` (module ``module``) imports.

    Every import statement counts, including those inside functions (the export may call them while tracing).
    ``from a.b import c`` names module ``a.b.c`` when that is a file, else module ``a.b`` (c is defined there).
    """
    tree = ast.parse(path.read_bytes(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name == package or a.name.startswith(package + "."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base != package and not base.startswith(package + "."):
                continue
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
    return found


def graph_sources(package_dir: str | os.PathLike | None = None, roots: tuple[str, ...] = GRAPH_ROOTS) -> tuple[str, ...]:
    """Sorted paths ("hmr_ros/geometry/rotations.py", ...) of the modules ``roots`` import, themselves included.

    Found by parsing the sources (no import, so it is fast and sees the files as they are on disk), following
    hmr_ros imports transitively. Packages imported only implicitly as parents (``hmr_ros/__init__.py``) are left
    out: they run no graph code, and listing them would invalidate exports for unrelated edits.
    """
    package_dir = Path(package_dir) if package_dir else PACKAGE_DIR
    package = package_dir.name
    seen: dict[str, Path] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        path = _module_path(package_dir, name)
        if path is None:
            if name in roots:
                raise FileNotFoundError(f"graph source root {name} is not a module under {package_dir}")
            continue  # ``from pkg import name``: name is defined in pkg, already followed
        seen[name] = path
        pending += sorted(_imported_modules(path, name, package) - set(seen))
    return tuple(sorted(f"{package}/{p.relative_to(package_dir).as_posix()}" for p in seen.values()))


def graph_code_hash(package_dir: str | os.PathLike | None = None, sources: tuple[str, ...] | None = None) -> str:
    """SHA-256 (hex, first 12) over the path and bytes of every file of ``graph_sources(package_dir)``."""
    package_dir = Path(package_dir) if package_dir else PACKAGE_DIR
    h = hashlib.sha256()
    for rel in sources if sources is not None else graph_sources(package_dir):
        h.update(rel.encode() + b"\0")
        h.update(package_dir.parent.joinpath(rel).read_bytes())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class OnnxKey:
    """What an exported ONNX pair depends on."""

    weights: str          # state_dict_hash of the network
    graph: str            # graph_code_hash of graph_sources
    width: str
    input_size: int       # S
    window: int           # T
    max_people: int       # K
    config: str           # SIAMConfig.graph_dict() as sorted JSON (mode, dim, layers, ...; no run-time fields)
    graph_sources: tuple[str, ...] = ()   # the files ``graph`` hashes, for people reading key.json
    torch_version: str = ""               # the exporter that wrote the graphs
    dtype: str = "fp32"                   # graph dtype: "fp32" | "fp16" (backends/graph_precision.py)

    @classmethod
    def for_network(cls, network, weights: str | None = None, package_dir: str | os.PathLike | None = None,
                    dtype: str = "fp32") -> "OnnxKey":
        """Key of a ``SIAM`` network (``weights`` defaults to its state-dict hash; ``package_dir``, the hmr_ros
        sources to hash, to this installed package) exported in graph dtype ``dtype``."""
        cfg = network.config
        sources = graph_sources(package_dir)
        return cls(weights=weights or state_dict_hash(network), graph=graph_code_hash(package_dir, sources),
                   width=cfg.width, input_size=cfg.input_size, window=cfg.window, max_people=cfg.max_people,
                   config=json.dumps(cfg.graph_dict(), sort_keys=True), graph_sources=sources,
                   torch_version=torch.__version__, dtype=dtype)

    def __post_init__(self):
        if self.dtype not in PRECISIONS:
            raise ValueError(f"OnnxKey.dtype={self.dtype!r}: expected one of {PRECISIONS}")

    def prefix(self) -> str:
        return f"{self.width}-s{self.input_size}-t{self.window}-k{self.max_people}-{self.dtype}"


#: ``EngineKey.flavour``: which TensorRT built the engine (backends/tensorrt_flavour.py).
FLAVOURS = ("tensorrt", "tensorrt_rtx")


@dataclass(frozen=True)
class EngineKey:
    """What a TensorRT engine pair depends on: its ONNX source, the TensorRT that built it, and where it runs."""

    onnx: OnnxKey              # its dtype is the engine's precision (strongly typed networks)
    flavour: str               # "tensorrt" (10.x/11.x) | "tensorrt_rtx"
    trt_version: str           # e.g. "10.3.0", "1.7.1.116"
    targets: tuple[str, ...]   # compute capabilities it runs on, ascending: ("sm86", "sm89", "sm120")
    gpu_name: str = ""         # TensorRT 10/11: the GPU it was built on; "" for TensorRT-RTX (portable)

    def __post_init__(self):
        if self.flavour not in FLAVOURS:
            raise ValueError(f"EngineKey.flavour={self.flavour!r}: expected one of {FLAVOURS}")
        if not self.targets or any(not re.fullmatch(r"sm\d+", t) for t in self.targets):
            raise ValueError(f"EngineKey.targets={self.targets!r}: expected compute capabilities like 'sm89'")
        object.__setattr__(self, "targets", tuple(sorted(set(self.targets), key=lambda t: int(t[2:]))))

    @property
    def precision(self) -> str:
        return self.onnx.dtype

    def prefix(self) -> str:
        gpu = re.sub(r"[^a-z0-9]+", "-", self.gpu_name.lower()).strip("-")
        tag = "rtx" if self.flavour == "tensorrt_rtx" else "trt"
        return "-".join(p for p in (self.onnx.prefix(), gpu, "-".join(self.targets), f"{tag}{self.trt_version}") if p)


def key_dict(key) -> dict:
    """The key as plain JSON data (nested keys as dicts, tuples as lists), as ``key.json`` stores it."""
    return json.loads(json.dumps(asdict(key)))


def key_digest(key) -> str:
    """SHA-256 (hex, first 16) of the key's canonical JSON."""
    return hashlib.sha256(json.dumps(key_dict(key), sort_keys=True).encode()).hexdigest()[:16]


def entry_dir(cache_dir: str | os.PathLike, kind: str, key) -> Path:
    """``cache_dir/kind/<readable prefix>-<digest>``: one folder per distinct key."""
    return Path(cache_dir) / kind / f"{key.prefix()}-{key_digest(key)}"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class EntryCheck:
    """Whether a cache entry may be used; ``reason`` says why not (for the rebuild log line)."""

    valid: bool
    reason: str


def _as_mapping(value):
    """A dict, or the dict a JSON string holds (``OnnxKey.config``), else None."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _differences(want: dict, have: dict, prefix: str = "") -> list[str]:
    """The fields that differ, one short "name: cached X, wanted Y" each (nested keys and JSON strings by field)."""
    out = []
    for k in sorted(set(want) | set(have)):
        a, b = have.get(k), want.get(k)
        if a == b:
            continue
        ma, mb = _as_mapping(a), _as_mapping(b)
        if ma is not None and mb is not None:
            out += _differences(mb, ma, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}: cached {_short(a)}, wanted {_short(b)}")
    return out


def _nearest(parent: Path, key) -> str:
    """", closest cached entry differs in: ..." for the sibling entry whose key differs least from ``key``."""
    best: list[str] | None = None
    want = key_dict(key)
    for meta_path in parent.glob(f"*/{KEY_FILE}") if parent.is_dir() else ():
        try:
            cached = json.loads(meta_path.read_text())["key"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        diffs = _differences(want, cached) if isinstance(cached, dict) else None
        if diffs and (best is None or len(diffs) < len(best)):
            best = diffs
    return f" (closest cached entry differs in: {'; '.join(best)})" if best else ""


def check_entry(folder: str | os.PathLike, key, files: tuple[str, ...]) -> EntryCheck:
    """Decide whether ``folder`` holds a usable entry for ``key`` with the artefacts ``files``.

    Invalid when: the folder or ``key.json`` is missing; ``key.json`` is unreadable; its key differs from
    ``key`` (fields listed); an artefact is missing, has another size or another SHA-256 (corrupt/truncated).
    """
    folder = Path(folder)
    meta_path = folder / KEY_FILE
    if not meta_path.is_file():
        return EntryCheck(False, f"no cached entry at {folder}{_nearest(folder.parent, key)}")
    try:
        meta = json.loads(meta_path.read_text())
        cached_key, artefacts = meta["key"], meta["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return EntryCheck(False, f"corrupt {meta_path} ({type(e).__name__}: {e})")
    diffs = _differences(key_dict(key), cached_key) if isinstance(cached_key, dict) else ["key is not a mapping"]
    if diffs:
        return EntryCheck(False, f"cached entry {folder} was made for another configuration ({'; '.join(diffs)})")
    for name in files:
        path = folder / name
        record = artefacts.get(name) if isinstance(artefacts, dict) else None
        if not path.is_file():
            return EntryCheck(False, f"cached file {path} is missing")
        if not isinstance(record, dict) or "sha256" not in record or "bytes" not in record:
            return EntryCheck(False, f"corrupt {meta_path}: no checksum recorded for {name}")
        size = path.stat().st_size
        if size != record["bytes"]:
            return EntryCheck(False, f"cached file {path} is corrupt: {size} bytes, {record['bytes']} recorded")
        if file_sha256(path) != record["sha256"]:
            return EntryCheck(False, f"cached file {path} is corrupt: SHA-256 differs from the recorded one")
    return EntryCheck(True, f"cached entry {folder} is valid")


def write_entry(folder: str | os.PathLike, key, produce: Callable[[Path], None], files: tuple[str, ...]) -> Path:
    """Create the entry ``folder`` atomically: ``produce(tmp)`` writes ``files`` into a temporary sibling
    folder, checksums and ``key.json`` are added, and the folder is renamed into place (replacing a stale one).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        produce(tmp)
        record = {}
        for name in files:
            path = tmp / name
            if not path.is_file():
                raise ValueError(f"cache entry producer did not write {name} into {tmp}")
            record[name] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
        (tmp / KEY_FILE).write_text(json.dumps({"key": key_dict(key), "files": record}, indent=2, sort_keys=True))
        if folder.exists():
            stale = folder.with_name(f".{folder.name}.stale-{os.getpid()}")
            os.replace(folder, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder



#: The sub-folders of a cache root, one per artefact kind.
KINDS = ("onnx", "tensorrt")
#: A temporary folder of an interrupted write is only called a leftover after this long: a TensorRT build may be
#: writing into it for many minutes.
LEFTOVER_AGE_S = 24 * 3600


def touch_entry(folder: str | os.PathLike) -> None:
    """Record that the entry ``folder`` was just used (its ``key.json`` modification time), for ``cache clean``."""
    try:
        os.utime(Path(folder) / KEY_FILE)
    except OSError:  # a read-only cache (a shared, pre-built one) still serves
        pass


@dataclass
class CacheEntry:
    """One thing under a cache root.

    kind: "onnx" | "tensorrt" | "timing" (a TensorRT timing cache file) | "leftover" (the temporary folder of an
    interrupted write, or an entry without a readable key.json). holds: what it is for, one line. bytes: size on
    disk. last_used: POSIX seconds (the key.json's modification time; the file's own for the others).
    """

    kind: str
    path: Path
    holds: str
    bytes: int
    last_used: float


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _describe(kind: str, key: dict, files: dict) -> str:
    onnx = key.get("onnx", key) if kind == "tensorrt" else key
    what = (f"{onnx.get('width')} S={onnx.get('input_size')} T={onnx.get('window')} K={onnx.get('max_people')} "
            f"{onnx.get('dtype', 'fp32')}")
    if kind == "tensorrt":
        on = f"{key.get('gpu_name')}, " if key.get("gpu_name") else ""
        flavour = "TensorRT-RTX" if key.get("flavour") == "tensorrt_rtx" else "TensorRT"
        what += f" for {on}{'+'.join(key.get('targets') or ())} ({flavour} {key.get('trt_version')})"
    return f"{what}: {', '.join(sorted(files))}"


def cache_entries(cache_dir: str | os.PathLike | None = None) -> list[CacheEntry]:
    """Everything under ``cache_dir`` (default ``default_cache_dir()``), by kind then name; [] when it is absent."""
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    out: list[CacheEntry] = []
    for kind in KINDS:
        parent = root / kind
        if not parent.is_dir():
            continue
        for path in sorted(parent.iterdir()):
            if path.is_file() and kind == "tensorrt" and path.name.startswith(("timing-", "runtime-")):
                holds = ("TensorRT timing cache (kernel timings of one GPU model)" if path.name.startswith("timing-")
                         else "TensorRT-RTX runtime cache (kernels compiled for one GPU)")
                out.append(CacheEntry("timing", path, holds, path.stat().st_size, path.stat().st_mtime))
                continue
            if not path.is_dir():
                continue
            meta_path = path / KEY_FILE
            try:
                meta = json.loads(meta_path.read_text())
                holds = _describe(kind, meta["key"], meta["files"])
                entry_kind, used = kind, meta_path.stat().st_mtime
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                entry_kind, used = "leftover", path.stat().st_mtime
                holds = ("interrupted write" if path.name.startswith(".") else "no readable key.json") + \
                        f" ({', '.join(sorted(f.name for f in path.iterdir())) or 'empty'})"
            out.append(CacheEntry(entry_kind, path, holds, _tree_bytes(path), used))
    return out


def remove_entry(entry: CacheEntry) -> None:
    """Delete an entry's folder (or file): an entry is either wholly there or gone, never half-deleted and valid."""
    if entry.path.is_dir():
        # Rename first: a reader that checks the entry during the deletion sees no entry, not a partial one.
        doomed = entry.path.with_name(f".{entry.path.name.lstrip('.')}.removing-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(entry.path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    else:
        entry.path.unlink(missing_ok=True)

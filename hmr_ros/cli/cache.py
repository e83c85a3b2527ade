"""``python -m hmr_ros cache``: what the ONNX export / TensorRT engine cache holds, its size, and cleaning it.

    cache list  [--dir D]                                  one line per entry: kind, folder, what it holds, size, last use
    cache size  [--dir D]                                  total size, and per kind
    cache clean [--dir D] [--older-than-days N | --all] [--dry-run]

``--dir`` defaults to the folder the backends use (``$XDG_CACHE_HOME/hmr_ros``, else ``~/.cache/hmr_ros``).
``clean`` alone removes only leftovers (folders of interrupted writes older than a day, entries without a readable
key.json); ``--older-than-days N`` also removes entries not used for N days; ``--all`` removes every entry. A
removed entry is exported or built again the next time a backend needs it.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="list, size or clean the ONNX export / TensorRT engine cache",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="cache_command", required=True)
    for name, text in (("list", "one line per cache entry"), ("size", "total size of the cache"),
                       ("clean", "remove leftovers, old entries (--older-than-days) or everything (--all)")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--dir", "--cache", dest="dir", default=None,
                       help="cache root (default: $XDG_CACHE_HOME/hmr_ros or ~/.cache/hmr_ros); --cache as in build-engine")
        if name == "clean":
            which = a.add_mutually_exclusive_group()
            which.add_argument("--older-than-days", type=float, default=None, metavar="N",
                               help="also remove entries last used more than N days ago")
            which.add_argument("--all", action="store_true", help="remove every entry")
            a.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    p.set_defaults(func=run)


def format_bytes(n: int) -> str:
    """Binary units, 3 significant digits: ``1536`` -> ``1.50 KiB``."""
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{n} B" if unit == "B" else f"{value:.3g} {unit}"


def _age(seconds: float) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return "just now"


def _when(t: float, now: float) -> str:
    return f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(t))} ({_age(max(0.0, now - t))})"


def run(args) -> int:
    from hmr_ros.backends.engine_cache import LEFTOVER_AGE_S, cache_entries, default_cache_dir, remove_entry

    root = Path(args.dir) if args.dir else default_cache_dir()
    if root.exists() and not root.is_dir():
        raise ValueError(f"cache --dir {root} is not a folder")
    entries = cache_entries(root)
    now = time.time()
    total = sum(e.bytes for e in entries)
    if args.cache_command == "list":
        print(f"cache {root}: {len(entries)} entries, {format_bytes(total)}")
        for e in entries:
            print(f"  {e.kind:<9} {e.path.parent.name}/{e.path.name}\n"
                  f"            holds {e.holds}\n"
                  f"            size {format_bytes(e.bytes)}, last used {_when(e.last_used, now)}")
        return 0
    if args.cache_command == "size":
        print(f"cache {root}: {format_bytes(total)} ({total} bytes) in {len(entries)} entries")
        for kind in sorted({e.kind for e in entries}):
            of_kind = [e for e in entries if e.kind == kind]
            print(f"  {kind:<9} {format_bytes(sum(e.bytes for e in of_kind)):>10} in {len(of_kind)}")
        return 0
    # clean
    if args.older_than_days is not None and args.older_than_days < 0:
        raise ValueError(f"--older-than-days must be >= 0, got {args.older_than_days}")

    def doomed(e) -> bool:
        if args.all:
            return True
        if e.kind == "leftover":
            return now - e.last_used > LEFTOVER_AGE_S or not e.path.name.startswith(".")
        return args.older_than_days is not None and now - e.last_used > args.older_than_days * 86400

    chosen = [e for e in entries if doomed(e)]
    verb = "would remove" if args.dry_run else "removed"
    for e in chosen:
        if not args.dry_run:
            remove_entry(e)
        print(f"{verb} {e.kind} {e.path.parent.name}/{e.path.name} ({format_bytes(e.bytes)}, last used "
              f"{_when(e.last_used, now)})")
    freed = sum(e.bytes for e in chosen)
    print(f"{verb} {len(chosen)} of {len(entries)} entries, {format_bytes(freed)}; "
          f"{format_bytes(total - freed)} left in {root}")
    return 0

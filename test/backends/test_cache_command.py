"""``python -m hmr_ros cache``: list, size and clean a cache of real exported ONNX entries (tiny W18 networks),
plus the other things a cache root holds (a TensorRT entry, a timing cache, the folder of an interrupted write)."""
import os
import shutil
import time

import pytest
import torch

from hmr_ros.backends.engine_cache import (ENGINE_FILES, ONNX_FILES, EngineKey, OnnxKey, check_entry, entry_dir,
                                           write_entry)
from hmr_ros.backends.onnx_backend import OnnxRuntimeBackend, cached_onnx
from hmr_ros.cli import main
from hmr_ros.cli.cache import format_bytes
from hmr_ros.model.siam import SIAM, SIAMConfig

DAY = 86400.0


pytestmark = pytest.mark.usefixtures("single_torch_thread")  # 2 shared cores


def tiny(seed: int) -> SIAM:
    torch.manual_seed(seed)
    return SIAM(SIAMConfig(width="w18", input_size=64, window=2, max_people=2)).eval()


def age(folder, days: float) -> None:
    """Make an entry look last used ``days`` ago."""
    t = time.time() - days * DAY
    os.utime(folder / "key.json" if folder.is_dir() else folder, (t, t))


def disk_bytes(root) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A cache root holding the real ONNX exports of two networks (exported once: each test cleans a copy)."""
    root = tmp_path_factory.mktemp("exports")
    for seed in (0, 1):
        cached_onnx(tiny(seed), root)
    return root


@pytest.fixture
def cache(exported, tmp_path):
    """Two real ONNX exports (used today and 40 days ago), a TensorRT entry, a timing cache and a 2-day-old
    interrupted write."""
    root = tmp_path / "cache"
    shutil.copytree(exported, root)
    recent, old = (entry_dir(root, "onnx", OnnxKey.for_network(tiny(seed))) for seed in (0, 1))
    age(recent, 0)
    age(old, 40)
    key = EngineKey(onnx=OnnxKey.for_network(tiny(0), dtype="fp16"), flavour="tensorrt", trt_version="10.3.0",
                    targets=("sm89",), gpu_name="NVIDIA GeForce RTX 4090")
    engines = write_entry(entry_dir(root, "tensorrt", key), key,
                          lambda tmp: [(tmp / n).write_bytes(b"engine" * 100) for n in ENGINE_FILES], ENGINE_FILES)
    age(engines, 10)
    timing = root / "tensorrt" / "timing-nvidia-geforce-rtx-4090-sm89-trt10.3.0.cache"
    timing.write_bytes(b"t" * 2048)
    crashed = root / "onnx" / ".w18-s64-t2-k2-0123.abcd"
    crashed.mkdir()
    (crashed / "frame_net.onnx").write_bytes(b"half an export")
    t = time.time() - 2 * DAY
    os.utime(crashed, (t, t))
    return dict(root=root, recent=recent, old=old, engines=engines, timing=timing, crashed=crashed)


def run(capsys, *argv) -> str:
    assert main(["cache", *argv]) == 0
    return capsys.readouterr().out


def test_list_shows_every_entry_with_what_it_holds_its_size_and_last_use(cache, capsys):
    out = run(capsys, "list", "--dir", str(cache["root"]))
    assert f"cache {cache['root']}: 5 entries, {format_bytes(disk_bytes(cache['root']))}" in out
    for name in ("recent", "old", "engines", "timing", "crashed"):
        assert f"{cache[name].parent.name}/{cache[name].name}" in out, name
    assert out.count("holds w18 S=64 T=2 K=2 fp32: frame_net.onnx, temporal_net.onnx") == 2
    assert "holds w18 S=64 T=2 K=2 fp16 for NVIDIA GeForce RTX 4090, sm89 (TensorRT 10.3.0)" in out
    assert "TensorRT timing cache" in out and "interrupted write (frame_net.onnx)" in out
    recent_bytes = sum((cache["recent"] / n).stat().st_size for n in (*ONNX_FILES, "key.json"))
    assert recent_bytes > 10 * 2**20  # a real export: tens of MiB
    assert f"size {format_bytes(recent_bytes)}, last used" in out
    assert "(40 d ago)" in out and "(10 d ago)" in out and "(2 d ago)" in out and "just now" in out


def test_size_is_the_bytes_on_disk(cache, capsys):
    total = disk_bytes(cache["root"])
    out = run(capsys, "size", "--dir", str(cache["root"]))
    assert f"{format_bytes(total)} ({total} bytes) in 5 entries" in out
    assert "onnx" in out and "tensorrt" in out and "timing" in out and "leftover" in out


def test_clean_removes_leftovers_then_entries_unused_for_n_days_then_everything(cache, capsys):
    root = cache["root"]
    dry = run(capsys, "clean", "--dir", str(root), "--older-than-days", "5", "--dry-run")
    assert dry.count("would remove") == 4 and all(cache[n].exists() for n in ("old", "engines", "crashed"))

    out = run(capsys, "clean", "--dir", str(root))  # no option: only the interrupted write
    assert "removed 1 of 5 entries" in out and not cache["crashed"].exists() and cache["old"].exists()

    out = run(capsys, "clean", "--dir", str(root), "--older-than-days", "30")
    assert "removed 1 of 4 entries" in out and not cache["old"].exists()
    for name in ("recent", "engines", "timing"):
        assert cache[name].exists(), name
    assert check_entry(cache["recent"], OnnxKey.for_network(tiny(0)), ONNX_FILES).valid
    assert [p.name for p in (root / "onnx").iterdir()] == [cache["recent"].name]  # nothing half-deleted

    out = run(capsys, "clean", "--dir", str(root), "--all")
    assert "removed 3 of 3 entries" in out and disk_bytes(root) == 0
    assert "0 entries, 0 B" in run(capsys, "list", "--dir", str(root))


def test_using_an_entry_makes_it_recent_so_clean_keeps_it(cache, capsys):
    backend = OnnxRuntimeBackend(tiny(1), "cpu", cache["root"])  # the entry aged 40 days
    assert backend.paths.frame_net.parent == cache["old"]
    assert not any("exporting" in line for line in backend.selection)
    out = run(capsys, "clean", "--dir", str(cache["root"]), "--older-than-days", "30")
    assert "removed 1 of 5 entries" in out and cache["old"].exists()  # only the leftover went


def test_default_dir_is_the_backends_default(exported, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert f"cache {tmp_path / 'hmr_ros'}: 0 B (0 bytes) in 0 entries" in run(capsys, "size")
    shutil.copytree(exported, tmp_path / "hmr_ros")
    notes = []
    paths = cached_onnx(tiny(0), None, notes=notes)  # the backends' default root: the copied entry, no export
    assert notes == [] and paths.frame_net.parent.parent == tmp_path / "hmr_ros" / "onnx"
    out = run(capsys, "list")
    assert f"cache {tmp_path / 'hmr_ros'}: 2 entries" in out and out.count("onnx      onnx/w18-s64-t2-k2-") == 2


def test_clean_needs_a_sane_age(tmp_path, capsys):
    assert main(["cache", "clean", "--dir", str(tmp_path), "--older-than-days", "-1"]) == 2
    assert "--older-than-days must be >= 0" in capsys.readouterr().err

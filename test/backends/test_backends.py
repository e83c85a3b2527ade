"""Backends: parity of ONNX Runtime with PyTorch FP32, the export cache, auto selection and its reasons, the
Estimator running through a backend, and the check-backends table. Tiny shapes (S=64, T=3, K=4) keep it fast;
all estimators here use seed 0, as the shared network does, so they share one cached export."""
import dataclasses
import shutil

import numpy as np
import pytest
import torch

from hmr_ros.cli import main
from hmr_ros.backends import AUTO_ORDER, create_backend, skip_reason
from hmr_ros.eval.check_backends import check_backends, compare_bodies, fixed_frames, format_table
from hmr_ros.backends.onnx_backend import OnnxRuntimeBackend
from hmr_ros.backends.tensorrt_backend import tensorrt_available
from hmr_ros.backends.torch_backend import TorchBackend
from hmr_ros.estimator import Estimator, EstimatorConfig
from hmr_ros.backends.export import example_inputs
from hmr_ros.model.siam import SIAM, SIAMConfig

SMALL = dict(input_size=64, window=3, max_people=4)
CUDA = torch.cuda.is_available()


pytestmark = pytest.mark.usefixtures("single_torch_thread")  # 2 shared cores


@pytest.fixture(scope="module")
def network():
    # The Estimator's default seed and the comparisons' threshold: the same state dict as the estimators below,
    # hence one shared cached export.
    torch.manual_seed(0)
    return SIAM(SIAMConfig(**SMALL, score_threshold=0.0)).eval()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("hmr_cache")


@pytest.fixture(scope="module")
def ort_backend(network, cache):
    return OnnxRuntimeBackend(network, "cpu", cache)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def test_onnxruntime_matches_torch_fp32_on_both_graphs(network, ort_backend):
    ref = TorchBackend(network, "cpu")
    (image,), window = example_inputs(network, seed=3)
    with torch.inference_mode():
        want_f, got_f = ref.frame(image), ort_backend.frame(image)
        want_t, got_t = ref.temporal(*window), ort_backend.temporal(*window)
    assert torch.equal(want_f.mask, got_f.mask) and torch.equal(want_f.centers, got_f.centers)
    assert max_diff(want_f.tokens, got_f.tokens) < 1e-4 and max_diff(want_f.scores, got_f.scores) < 1e-5
    assert got_f.keypoints.shape == (1, 4, 17, 3) and max_diff(want_f.keypoints, got_f.keypoints) < 1e-4
    for name in ("rotmats", "betas", "cam", "tokens"):
        assert max_diff(getattr(want_t, name), getattr(got_t, name)) < 1e-4, name
    for out in (got_f, got_t):
        for t in out:
            assert t.device.type == "cpu" and t.dtype in (torch.float32, torch.bool)
    assert got_f.tokens.shape == (1, 4, 256) and got_t.rotmats.shape == (1, 4, 24, 3, 3)


def test_onnx_export_is_reused_not_redone(network, cache, ort_backend):
    paths = ort_backend.paths
    mtimes = [paths.frame_net.stat().st_mtime_ns, paths.temporal_net.stat().st_mtime_ns]
    again = OnnxRuntimeBackend(network, "cpu", cache)
    assert again.paths == paths
    assert [paths.frame_net.stat().st_mtime_ns, paths.temporal_net.stat().st_mtime_ns] == mtimes
    assert not any("exporting" in line for line in again.selection)


def test_corrupt_cached_export_is_redone_with_the_reason(network, cache, ort_backend, tmp_path):
    shutil.copytree(cache / "onnx", tmp_path / "onnx")  # a private copy of the valid entry, to damage
    first = OnnxRuntimeBackend(network, "cpu", tmp_path)
    assert not any("exporting" in line for line in first.selection)
    data = bytearray(first.paths.frame_net.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first.paths.frame_net.write_bytes(bytes(data))
    second = OnnxRuntimeBackend(network, "cpu", tmp_path)
    assert any("exporting" in line and "corrupt" in line for line in second.selection), second.selection
    (image,), _ = example_inputs(network, seed=4)
    with torch.inference_mode():
        assert max_diff(second.frame(image).tokens, network.frame_net(image)[0]) < 1e-4


def expected_auto_choice(device: torch.device) -> str:
    for name, kind in AUTO_ORDER:
        if skip_reason(name, kind, device) is None:
            return name
    raise AssertionError("torch-cpu is always usable")


def test_auto_prefers_in_order_and_says_why_each_earlier_choice_was_skipped(network, cache):
    backend = create_backend("auto", network, "auto", cache_dir=cache)
    choice = expected_auto_choice(torch.device("cuda" if CUDA else "cpu"))
    assert backend.name == choice
    chosen = next(i for i, line in enumerate(backend.selection) if line.startswith("auto chose"))
    skipped = backend.selection[:chosen]
    order = [f"{n}-{k}" for n, k in AUTO_ORDER]
    assert [s.split(" ")[0] for s in skipped] == order[:order.index(next(
        f"{n}-{k}" for n, k in AUTO_ORDER if n == choice))]
    if not CUDA:  # this development machine: no GPU, so ONNX Runtime on the CPU
        assert backend.name == "onnxruntime" and backend.device == torch.device("cpu")
        # what is installed, and why it cannot run: "tensorrt not installed; TensorRT-RTX 1.7.1.116 installed; ..."
        assert skipped[0].startswith("tensorrt-cuda skipped: ") and "no CUDA GPU to run on" in skipped[0]
        assert "tensorrt not installed" in skipped[0] or "TensorRT " in skipped[0]
        assert skipped[1].startswith("torch-cuda skipped: no CUDA GPU to run on")
    if not tensorrt_available()[0] and CUDA:
        assert "no TensorRT is importable" in skipped[0]


def test_auto_on_a_cpu_device_never_picks_a_gpu_backend(network, cache):
    backend = create_backend("auto", network, "cpu", cache_dir=cache)
    assert backend.name == "onnxruntime" and backend.device.type == "cpu" and backend.precision == "fp32"
    assert all("skipped" in s for s in backend.selection[:2])
    assert network.frame_net.head.tie_order.device.type == "cpu"  # cached_onnx put the network back


def test_auto_falls_back_to_torch_cpu_when_onnxruntime_cannot_start(network, tmp_path):
    not_a_folder = tmp_path / "cache_is_a_file"
    not_a_folder.write_text("the export cache cannot be created under a file")
    backend = create_backend("auto", network, "cpu", cache_dir=not_a_folder)
    assert backend.name == "torch" and backend.device.type == "cpu"
    assert any(s.startswith("onnxruntime-cpu skipped: failed to start") for s in backend.selection)
    assert backend.selection[-1] == "auto chose torch (cpu, fp32)"


def test_bad_names_and_precisions_are_rejected(network, cache):
    with pytest.raises(ValueError, match="backend must be one of"):
        create_backend("openvino", network, "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        create_backend("torch", network, "cpu", precision="int8")
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        create_backend("torch", network, "cpu", precision="fp16")
    with pytest.raises(ValueError, match="device must be"):
        create_backend("torch", network, "gpu0")


def test_torch_backend_defaults_per_device(network):
    cpu = create_backend("torch", network, "cpu")
    assert (cpu.precision, cpu.device.type, cpu.graphs) == ("fp32", "cpu", False)
    assert cpu.describe() == "torch (cpu, fp32)" and cpu.selection == ["torch requested"]
    if not CUDA:
        with pytest.raises(ValueError, match="CUDA is not available"):
            TorchBackend(network, "cuda")


def test_backends_return_plain_tensors_to_any_caller(network, ort_backend):
    # Called outside the Estimator's inference_mode (as check-backends or a user's script would): no autograd
    # history is recorded, on either graph.
    (image,), window = example_inputs(network, seed=2)
    for backend in (TorchBackend(network, "cpu"), ort_backend):
        for out in (*backend.frame(image), *backend.temporal(*window)):
            assert not out.requires_grad and out.grad_fn is None, backend.describe()


def test_estimator_runs_through_the_chosen_backend_with_equal_bodies(cache):
    frames = fixed_frames(4, 64)
    runs = {}
    for name in ("torch", "onnxruntime"):
        est = Estimator(EstimatorConfig(SIAMConfig(**SMALL, score_threshold=0.0), backend=name, engine_cache_dir=str(cache)))
        assert est.backend.name == name and est.device == est.backend.device
        runs[name] = [est.step(f, stamp=i / 30) for i, f in enumerate(frames)]
    assert all(len(b) == 4 for b in runs["torch"])
    agreement = compare_bodies(runs["torch"], runs["onnxruntime"])
    assert agreement.bodies == 16 and agreement.note == ""
    assert agreement.max_vertex_mm < 0.1 and agreement.max_joint_mm < 0.1


def test_compare_bodies_flags_a_different_person_count():
    frames = fixed_frames(1, 64)
    est = Estimator(EstimatorConfig(SIAMConfig(**SMALL, score_threshold=0.0), backend="torch"))
    bodies = est.step(frames[0], 0.0)
    agreement = compare_bodies([bodies], [bodies[:-1]])
    assert agreement.max_vertex_mm == float("inf") and "people" in agreement.note


def test_compare_bodies_pairs_by_centre_and_tolerates_only_the_weak_margin():
    frames = fixed_frames(1, 64)
    est = Estimator(EstimatorConfig(SIAMConfig(**SMALL, score_threshold=0.0), backend="torch"))
    bodies = est.step(frames[0], 0.0)
    strong = [dataclasses.replace(b, score=0.9) for b in bodies]
    swapped = compare_bodies([strong], [strong[::-1]])  # FP16 may swap near-equal ranks
    assert (swapped.max_vertex_mm, swapped.bodies, swapped.note) == (0.0, 4, "")
    moved = strong[:-1] + [dataclasses.replace(strong[-1], center=strong[-1].center + 4.0, score=0.1)]
    weak = strong[:-1] + [dataclasses.replace(strong[-1], score=0.1)]
    margin = compare_bodies([weak], [moved], margin_score=0.3)
    assert margin.max_vertex_mm == 0.0 and margin.bodies == 3 and "1 slots under score 0.3" in margin.note
    lost = compare_bodies([strong], [moved], margin_score=0.3)
    assert lost.max_vertex_mm == float("inf") and "score 0.90" in lost.note
    shifted = compare_bodies([strong], [moved], margin_score=0.3, cell_px=4.0)  # a flat peak's neighbour
    assert shifted.bodies == 3 and shifted.cell_shifts == 1 and "one cell away" in shifted.note


def test_check_backends_reports_every_available_backend(cache):
    report = check_backends(EstimatorConfig(SIAMConfig(**SMALL), engine_cache_dir=str(cache)), frames=3, device="auto")
    names = [(r.backend, r.device, r.precision) for r in report.rows]
    assert names[:2] == [("torch", "cpu", "fp32"), ("onnxruntime", "cpu", "fp32")]
    assert report.ok, format_table(report)
    for r in report.rows:
        assert r.people == 12 and r.max_vertex_mm <= r.tolerance_mm and r.latency_median_ms > 0
    table = format_table(report)
    # on the CPU in fp32 ONNX Runtime runs the frame graph, PyTorch the temporal network on the occupied slots
    assert "| onnxruntime (CPU, fp32; temporal network: torch) | cpu | fp32 |" in table
    if not CUDA:
        assert "\ntorch-cuda skipped: no CUDA GPU to run on" in table  # the reason, not "skipped: ... skipped"
    assert "fp16 graph skipped: needs trained weights" in table  # untrained HRNet overflows FP16


def test_fp16_graph_stays_within_tolerance_of_pytorch_fp32(cache):
    """The graph FP16 TensorRT engines are built from, run by ONNX Runtime on the CPU, against PyTorch FP32 with
    the shipped weights: vertices and joints within the FP16 tolerance."""
    config = EstimatorConfig(SIAMConfig(input_size=128, window=3, max_people=4), checkpoint="synthetic",
                             engine_cache_dir=str(cache))
    report = check_backends(config, frames=3, device="cpu", only=[("onnxruntime", "cpu", "fp16")])
    (row,) = report.rows
    assert row.description == "onnxruntime (CPU, fp16)" and row.people == 12
    assert 0 < row.max_vertex_mm <= row.tolerance_mm and row.max_joint_mm <= row.tolerance_mm, format_table(report)
    assert row.max_vertex_mm <= 5.0  # measured 1.8 mm at this size: a regression would show long before 10 mm


def test_check_backends_command_prints_the_table_and_exit_code(cache, capsys):
    code = main(["check-backends", "--input-size", "64", "--window", "3", "--max-people", "4", "--frames", "3",
                 "--cache", str(cache)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "max vertex err (mm)" in out and "latency p99 (ms)" in out and "onnxruntime" in out
    assert "all backends within tolerance" in out
    assert "TensorRT: " in out and "cached engines: none" in out  # what is installed, what engines exist


def test_estimator_config_default_backend_is_auto():
    assert EstimatorConfig().backend == "auto" and EstimatorConfig().precision == "auto"
    assert np.isclose(EstimatorConfig().network.score_threshold, 0.3)


def test_onnxruntime_decodes_movenets_keypoints_as_torch_does(tmp_path):
    """The frame graph's keypoint decoding (argmax over weighted heatmaps, gathers at each person's cells) exports:
    SIAM-M's keypoints from ONNX Runtime equal PyTorch's, slot by slot (random weights: the graph, not the model)."""
    torch.manual_seed(0)
    net = SIAM(SIAMConfig(backbone="movenet", width="lightning", input_size=64, window=2, max_people=3,
                          score_threshold=0.0)).eval()
    image = torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        want, got = TorchBackend(net, "cpu").frame(image), OnnxRuntimeBackend(net, "cpu", tmp_path).frame(image)
    assert torch.equal(want.centers, got.centers)
    assert got.keypoints.shape == (1, 3, 17, 3) and max_diff(want.keypoints, got.keypoints) < 1e-3
    assert want.keypoints[..., :2].abs().sum() > 0  # decoded, not the zeros of a backbone without keypoints

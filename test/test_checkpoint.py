"""Checkpoints: safetensors round trip, and mismatches reported by name."""
import pytest
import torch
from safetensors.torch import load_file, save_file

from hmr_ros.checkpoint import BUNDLED, load_checkpoint, read_config, resolve_checkpoint, save_checkpoint
from hmr_ros.model.siam import SIAM, SIAMConfig

CFG = SIAMConfig(input_size=64, max_people=2, window=2, sia_layers=1)


def build(seed: int, cfg: SIAMConfig = CFG) -> SIAM:
    torch.manual_seed(seed)
    return SIAM(cfg).eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "siam.safetensors"
    model = build(1)
    save_checkpoint(model, path)
    return model, path


def test_round_trip_restores_identical_outputs(saved):
    model, path = saved
    fresh = build(2)
    stored = load_checkpoint(fresh, path)
    assert stored["width"] == "w32" and stored["window"] == 2
    image = torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8)
    with torch.inference_mode():
        for a, b in zip(model.frame_net(image), fresh.frame_net(image)):
            assert torch.equal(a, b)


def test_shape_mismatch_lists_the_tensors_and_config(saved):
    _, path = saved
    other = build(0, SIAMConfig(input_size=64, max_people=2, window=2, sia_layers=1, dim=128, sia_heads=8))
    with pytest.raises(ValueError) as err:
        load_checkpoint(other, path)
    msg = str(err.value)
    assert "shape mismatches" in msg and "dim=256/128" in msg and "frame_net.head.fusion.proj.0.0.weight" in msg


def test_missing_and_unexpected_keys_are_listed(saved, tmp_path):
    _, path = saved
    state = load_file(str(path))
    state.pop("temporal_net.smpl_head.mean_cam")
    state["extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.safetensors"
    save_file(state, str(bad))
    with pytest.raises(ValueError, match=r"missing in file \(1\): temporal_net.smpl_head.mean_cam") as err:
        load_checkpoint(build(0), bad)
    assert "unexpected in file (1): extra.weight" in str(err.value)


def test_non_finite_weights_are_refused(saved, tmp_path):
    _, path = saved
    state = load_file(str(path))
    state["temporal_net.fd.shared.weight"][0, 0] = float("nan")
    bad = tmp_path / "nan.safetensors"
    save_file(state, str(bad))
    with pytest.raises(ValueError, match="(?s)non-finite.*temporal_net.fd.shared.weight"):
        load_checkpoint(build(0), bad)


def test_missing_pickle_and_corrupt_files(tmp_path):
    model = build(0)
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_checkpoint(model, tmp_path / "nope.safetensors")
    pt = tmp_path / "weights.pth"
    pt.write_bytes(b"\x80\x04 not really")
    with pytest.raises(ValueError, match="only .safetensors"):
        load_checkpoint(model, pt)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_checkpoint(model, corrupt)


def test_half_precision_file_loads_into_a_float32_network(saved, tmp_path):
    """Shipped weights are fp16 (half the bytes in every clone); loading casts them back."""
    model, _ = saved
    half = tmp_path / "half.safetensors"
    save_checkpoint(model, half, dtype=torch.float16)
    fresh = build(3)
    assert read_config(half)["window"] == 2
    load_checkpoint(fresh, half)
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert b.dtype == a.dtype, name
        if a.is_floating_point():
            assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name


def test_bundled_names_resolve_into_the_package_and_empty_means_untrained(tmp_path):
    assert resolve_checkpoint("") is None and resolve_checkpoint(None) is None
    path = resolve_checkpoint("synthetic")
    assert path.name == BUNDLED["synthetic"] and path.parent.name == "weights" and path.parent.parent.name == "hmr_ros"
    assert resolve_checkpoint(tmp_path / "x.safetensors") == tmp_path / "x.safetensors"


def test_files_from_before_the_run_time_threshold_still_load(saved, tmp_path):
    """Checkpoints written while score_threshold was a graph buffer hold that tensor; it is no longer a weight."""
    from safetensors.torch import load_file, save_file

    from hmr_ros.checkpoint import CONFIG_KEY
    from safetensors import safe_open

    _, path = saved
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    old = tmp_path / "old.safetensors"
    save_file({**load_file(str(path)), "frame_net.head.score_threshold": torch.tensor(0.3)}, str(old),
              metadata={CONFIG_KEY: meta[CONFIG_KEY]})
    load_checkpoint(build(4), old)


def test_the_bundled_weights_ship_in_the_package_and_fit_the_node_defaults():
    """The weights `checkpoint: synthetic` names: fp16 safetensors under 80 MB, a W32 at 128 px, loadable strictly
    into the network the node builds by default (docs/training.md, "The shipped weights")."""
    from hmr_ros.parameters import defaults, make_config

    path = resolve_checkpoint("synthetic")
    assert path.is_file() and path.stat().st_size < 80e6
    stored = read_config(path)
    net = make_config(defaults()).network_config()
    assert (stored["width"], stored["input_size"]) == (net.width, net.input_size) == ("w32", 128)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        floats = {f.get_tensor(k).dtype for k in f.keys()} - {torch.int64, torch.int32, torch.bool}
    assert floats == {torch.float16}
    load_checkpoint(SIAM(net), path)


def test_files_from_before_the_backbone_contract_name_the_width_variant_and_still_load(saved, tmp_path):
    """Before backbones were pluggable the config said ``variant: w32`` (always an HRNet); such a file reads as
    ``backbone: hrnet, width: w32`` and loads strictly, and a wrong width is still reported under its new name."""
    import json

    from safetensors import safe_open

    from hmr_ros.checkpoint import CONFIG_KEY

    model, path = saved
    with safe_open(str(path), framework="pt") as f:
        fields = json.loads(f.metadata()[CONFIG_KEY])
    fields["variant"] = fields.pop("width")
    del fields["backbone"]
    old = tmp_path / "variant.safetensors"
    save_file(load_file(str(path)), str(old), metadata={CONFIG_KEY: json.dumps(fields)})

    stored = read_config(old)
    assert "variant" not in stored and (stored["backbone"], stored["width"]) == ("hrnet", CFG.width)
    assert SIAMConfig(**stored) == CFG
    load_checkpoint(build(5), old)
    with pytest.raises(ValueError, match="is a hrnet w32 network, but backbone 'hrnet' width 'w18' was asked for"):
        load_checkpoint(build(6, SIAMConfig(**{**CFG.to_dict(), "width": "w18"})), old)


def test_a_checkpoint_of_another_backbone_is_one_line_naming_both(saved):
    _, path = saved
    movenet = SIAMConfig(backbone="movenet", width="lightning", input_size=CFG.input_size, window=CFG.window,
                         max_people=CFG.max_people)
    with pytest.raises(ValueError) as err:
        load_checkpoint(build(7, movenet), path)
    message = str(err.value)
    assert "\n" not in message and "is a hrnet w32 network, but backbone 'movenet' width 'lightning'" in message

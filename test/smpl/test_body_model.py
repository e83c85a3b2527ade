"""BodyModel: equals smplx's SMPL on the same file; loading and its error messages; SMPL-X body path."""
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import smplx
import torch
from smplx.utils import Struct
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.smpl.body_model import BodyModel, load_body_model
from hmr_ros.smpl.kinematic_tree import SMPL_PARENTS
from hmr_ros.smpl.procedural_body import make_procedural_body, write_procedural_body


@pytest.fixture(scope="module")
def procedural():
    return load_body_model("procedural")


@pytest.fixture(scope="module")
def arrays():
    return make_procedural_body()


def random_inputs(N, seed=0):
    g = torch.Generator().manual_seed(seed)
    betas = torch.randn(N, 10, generator=g)
    aa = 0.6 * torch.randn(N, 24, 3, generator=g)
    return betas, aa, axis_angle_to_rotmat(aa)


def test_forward_equals_smplx_smpl_on_the_same_file(tmp_path, procedural):
    path = write_procedural_body(tmp_path / "procedural.npz")
    V = procedural.num_vertices
    # smplx adds vertex-picked keypoints after the 24 joints; give it indices valid for this mesh
    ids = {k: i % V for k, i in SMPLX_VERTEX_IDS["smplh"].items()}
    ref = smplx.SMPL(model_path=str(path), data_struct=Struct(**dict(np.load(path))), vertex_ids=ids)
    betas, aa, R = random_inputs(6)
    out = procedural(betas, R)
    with torch.no_grad():
        ref_out = ref(betas=betas, global_orient=aa[:, 0], body_pose=aa[:, 1:].reshape(6, -1))
    assert out.vertices.shape == (6, V, 3) and out.joints.shape == (6, 24, 3)
    assert (out.vertices - ref_out.vertices).abs().max() < 1e-5
    assert (out.joints - ref_out.joints[:, :24]).abs().max() < 1e-5
    assert np.array_equal(procedural.faces, ref.faces.astype(np.int64))


def test_no_trainable_parameters_and_everything_is_a_buffer(procedural):
    assert list(procedural.parameters()) == []
    assert {"v_template", "shapedirs", "posedirs", "J_regressor", "lbs_weights", "parents"} <= set(
        dict(procedural.named_buffers())
    )
    assert procedural.faces.dtype == np.int64 and procedural.faces.shape[1] == 3
    assert procedural.num_betas == 10 and procedural.name == "procedural"
    assert tuple(procedural.parents.tolist()) == SMPL_PARENTS
    assert procedural.posedirs.shape == (207, procedural.num_vertices * 3)


def test_module_moves_dtype_with_to(procedural):
    betas, _, R = random_inputs(2)
    m64 = load_body_model("procedural").to(torch.float64)
    out64 = m64(betas.double(), R.double())
    assert out64.vertices.dtype == torch.float64
    assert torch.allclose(out64.vertices.float(), procedural(betas, R).vertices, atol=1e-5)


def test_npz_file_loads_to_the_same_model(tmp_path, procedural):
    path = write_procedural_body(tmp_path / "body.npz")
    m = load_body_model(str(path))
    assert m.name == "body.npz"
    betas, _, R = random_inputs(2)
    assert torch.equal(m(betas, R).vertices, procedural(betas, R).vertices)


def test_forward_rejects_wrong_shapes(procedural):
    with pytest.raises(ValueError, match=r"rotmats must be \(N, 24, 3, 3\)"):
        procedural(torch.zeros(1, 10), torch.zeros(1, 23, 3, 3))
    with pytest.raises(ValueError, match=r"betas must be \(N, 10\)"):
        procedural(torch.zeros(2, 10), torch.eye(3).expand(1, 24, 3, 3))


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    with pytest.raises(FileNotFoundError, match="SMPL_NEUTRAL.npz"):
        load_body_model(str(path))
    with pytest.raises(ValueError, match="does not exist"):
        load_body_model(str(path))


def _write_npz(path, arrays):
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda a: a.pop("weights"), r"missing key\(s\) \['weights'\]"),
        (lambda a: a.__setitem__("shapedirs", a["shapedirs"][:, :, :4]), "shape directions, need >= 10"),
        (lambda a: a.__setitem__("J_regressor", a["J_regressor"][:20]), r"'J_regressor' has shape \(20, "),
        (lambda a: a.__setitem__("posedirs", a["posedirs"][:, :, :200]), r"expected \(\d+, 3, 207\)"),
        (lambda a: a["v_template"].__setitem__((5, 1), np.nan), "non-finite"),
        (lambda a: a.__setitem__("f", a["f"] + 10**7), "'f' indexes vertices outside"),
    ],
)
def test_malformed_file_names_path_problem_and_expected_layout(tmp_path, arrays, edit, problem):
    bad = {k: v.copy() for k, v in arrays.items()}
    edit(bad)
    path = _write_npz(tmp_path / "broken.npz", bad)
    with pytest.raises(ValueError) as info:
        load_body_model(path)
    msg = str(info.value)
    assert path in msg
    assert pytest.importorskip("re").search(problem, msg), msg
    for expected in ("v_template (V,3)", "f (F,3)", "shapedirs (V,3,>=10)", "posedirs (V,3,207)",
                     "J_regressor (24,V)", "weights (V,24)", "kintree_table (2,24)"):
        assert expected in msg


def test_not_an_npz_file_is_a_value_error(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="junk.npz"):
        load_body_model(str(path))
    other = tmp_path / "model.obj"
    other.write_text("v 0 0 0\n")
    with pytest.raises(ValueError, match="expected .npz or .pkl"):
        load_body_model(str(other))


def test_pkl_requires_allow_pickle(tmp_path, arrays):
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(arrays))
    with pytest.raises(ValueError, match=r"SMPL_NEUTRAL\.pkl.*allow_pickle=True"):
        load_body_model(str(path))


class _FakeCh:
    """Pickles like chumpy's Ch: a class from module chumpy.ch whose state holds the value in 'x'."""

    def __init__(self, x):
        self.x = x
        self._dirty_vars = set()

    def __getstate__(self):
        return dict(self.__dict__)


def test_pkl_with_allow_pickle_maps_chumpy_and_sparse_to_numpy(tmp_path, monkeypatch, arrays, procedural):
    # write a pickle that references chumpy.ch.Ch and scipy.sparse, like the official SMPL .pkl files
    fake_chumpy, fake_ch = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")
    _FakeCh.__module__, _FakeCh.__qualname__ = "chumpy.ch", "Ch"
    fake_ch.Ch = _FakeCh
    monkeypatch.setitem(sys.modules, "chumpy", fake_chumpy)
    monkeypatch.setitem(sys.modules, "chumpy.ch", fake_ch)
    data = dict(arrays)
    data["shapedirs"] = _FakeCh(arrays["shapedirs"])
    data["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    data["kintree_table"] = arrays["kintree_table"].astype(np.uint32)
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    monkeypatch.delitem(sys.modules, "chumpy")
    monkeypatch.delitem(sys.modules, "chumpy.ch")

    m = load_body_model(str(path), allow_pickle=True)
    betas, _, R = random_inputs(2)
    assert torch.equal(m(betas, R).vertices, procedural(betas, R).vertices)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_pkl_loader_refuses_arbitrary_callables(tmp_path, arrays):
    marker = tmp_path / "pwned"
    data = dict(arrays)
    data["v_template"] = _Evil(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(ValueError, match=r"evil\.pkl.*not allowed"):
        load_body_model(str(path), allow_pickle=True)
    assert not marker.exists()


def smplx_layout_from(arrays):
    """An SMPL-X-shaped (55-joint) file whose body part is the procedural body: extra joints (jaw, eyes,
    fingers) hang off the head and wrists with zero skinning weight."""
    V = arrays["v_template"].shape[0]
    parents = list(SMPL_PARENTS[:22]) + [15, 15, 15] + [20] * 15 + [21] * 15
    Jr = np.zeros((55, V))
    Jr[:22] = arrays["J_regressor"][:22]
    Jr[22:25] = arrays["J_regressor"][15]
    Jr[25:40] = arrays["J_regressor"][22]
    Jr[40:55] = arrays["J_regressor"][23]
    W = np.zeros((V, 55))
    W[:, :22] = arrays["weights"][:, :22]
    W[:, 20] += arrays["weights"][:, 22]  # SMPL's hand part follows the wrist
    W[:, 21] += arrays["weights"][:, 23]
    posedirs = np.zeros((V, 3, 9 * 54))
    posedirs[:, :, : 9 * 21] = arrays["posedirs"][:, :, : 9 * 21]
    shapedirs = np.concatenate([arrays["shapedirs"], np.zeros((V, 3, 390))], axis=2)  # 300 shape + 100 expr
    kintree = np.array([[2**32 - 1] + parents[1:], list(range(55))], dtype=np.int64)
    return dict(v_template=arrays["v_template"], f=arrays["f"], shapedirs=shapedirs, posedirs=posedirs,
                J_regressor=Jr, weights=W, kintree_table=kintree)


def test_smplx_layout_drives_its_body_joints(tmp_path, arrays):
    path = _write_npz(tmp_path / "SMPLX_NEUTRAL.npz", smplx_layout_from(arrays))
    m = load_body_model(path)
    assert m.kind == "SMPL-X" and m.num_joints == 55
    # reference: the same body as a 24-joint SMPL whose hands are rigid with the wrists
    smpl = dict(arrays)
    smpl["weights"] = np.concatenate([smplx_layout_from(arrays)["weights"][:, :22], np.zeros((V := len(
        arrays["v_template"]), 2))], axis=1)
    smpl["posedirs"] = arrays["posedirs"].copy()
    smpl["posedirs"][:, :, 9 * 21:] = 0.0
    ref = BodyModel(smpl, name="reference")
    betas, _, R = random_inputs(3)
    R[:, 22:] = torch.eye(3)
    out, ref_out = m(betas, R), ref(betas, R)
    assert out.joints.shape == (3, 24, 3) and out.vertices.shape == (3, V, 3)
    assert torch.allclose(out.vertices, ref_out.vertices, atol=1e-5)
    assert torch.allclose(out.joints, ref_out.joints, atol=1e-5)

"""SIA: attention over people and frames, with masks, causality, permutation equivariance and the centres' pair
geometry."""
import pytest
import torch

from hmr_ros.model.sia import SIA, attention_bias

B, T, K, D = 2, 4, 5, 32
S = 64  # network input side: centres are in its pixels


def run(sia, tokens, mask, causal=True, centers=None):
    if centers is None:
        centers = torch.rand(tokens.shape[:3] + (2,), generator=torch.Generator().manual_seed(7)) * S
    return sia(tokens, mask, centers, S, causal)


@pytest.fixture(scope="module")
def sia():
    torch.manual_seed(0)
    return SIA(D, layers=2, heads=4, max_window=8).eval()


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(B, T, K, D, generator=g)
    mask = torch.rand(B, T, K, generator=g) > 0.3
    mask[:, -1, 0] = True
    return tokens, mask


@pytest.mark.parametrize("causal", [True, False])
def test_absent_people_do_not_change_present_people(sia, causal):
    tokens, mask = inputs()
    noise = torch.randn_like(tokens) * 10
    altered = torch.where(mask.unsqueeze(-1), tokens, noise)
    a, b = run(sia, tokens, mask, causal), run(sia, altered, mask, causal)
    assert torch.allclose(a[mask], b[mask], atol=1e-5)


def test_permuting_people_permutes_outputs(sia):
    tokens, mask = inputs()
    perms = [torch.randperm(K) for _ in range(T)]  # a different shuffle in every frame
    pt = torch.stack([tokens[:, t, p] for t, p in enumerate(perms)], 1)
    pm = torch.stack([mask[:, t, p] for t, p in enumerate(perms)], 1)
    centers = torch.rand(B, T, K, 2) * S
    pc = torch.stack([centers[:, t, p] for t, p in enumerate(perms)], 1)
    out, pout = run(sia, tokens, mask, centers=centers), run(sia, pt, pm, centers=pc)
    expected = torch.stack([out[:, t, p] for t, p in enumerate(perms)], 1)
    assert torch.allclose(pout[pm], expected[pm], atol=1e-5)


def test_causal_frames_never_see_newer_frames(sia):
    tokens, mask = inputs()
    changed = tokens.clone()
    changed[:, 2:] += torch.randn_like(changed[:, 2:])
    a, b = run(sia, tokens, mask, causal=True), run(sia, changed, mask, causal=True)
    assert torch.allclose(a[:, :2][mask[:, :2]], b[:, :2][mask[:, :2]], atol=1e-6)
    # ...and without the causal rule they do, so the test above is not vacuous.
    a, b = run(sia, tokens, mask, causal=False), run(sia, changed, mask, causal=False)
    assert not torch.allclose(a[:, :2][mask[:, :2]], b[:, :2][mask[:, :2]], atol=1e-3)


def test_people_interact_within_a_frame(sia):
    tokens, mask = inputs()
    mask[:] = True
    changed = tokens.clone()
    changed[:, -1, 1] += torch.randn(D)  # not a constant: LayerNorm ignores uniform shifts
    a, b = run(sia, tokens, mask), run(sia, changed, mask)
    assert not torch.allclose(a[:, -1, 0], b[:, -1, 0], atol=1e-4)


def test_an_empty_window_gives_finite_outputs(sia):
    tokens, _ = inputs()
    out = run(sia, tokens, torch.zeros(B, T, K, dtype=torch.bool))
    assert torch.isfinite(out).all()


def test_bias_allows_self_and_present_older_keys_only():
    mask = torch.tensor([[[True, False], [True, True]]])  # (1, T=2, K=2)
    allowed = attention_bias(mask, causal=True)[0, 0] == 0
    # token order: (t0,p0) (t0,p1) (t1,p0) (t1,p1)
    assert allowed.tolist() == [[True, False, False, False],
                                [True, True, False, False],
                                [True, False, True, True],
                                [True, False, True, True]]


def test_window_longer_than_time_embedding_is_rejected(sia):
    with pytest.raises(ValueError, match="max_window"):
        run(sia, torch.zeros(1, 9, K, D), torch.ones(1, 9, K, dtype=torch.bool))


def test_nearby_centres_weigh_more_and_displacements_reach_the_output():
    """The distance penalty makes a token attend to nearby centres (in other frames: the same person); the relative
    projection adds where the attended centres lie, so moving an older centre changes the output."""
    torch.manual_seed(0)
    sia = SIA(D, layers=1, heads=4, max_window=8).eval()
    attn = sia.blocks[0].attn
    torch.nn.init.normal_(attn.relative.weight, std=0.5)
    tokens, mask = inputs()
    mask[:] = True
    centers = torch.rand(B, T, K, 2) * S
    base = run(sia, tokens, mask, centers=centers)
    moved = centers.clone()
    moved[:, 0, 0] += 8.0  # an older token of person 0 somewhere else
    assert not torch.allclose(run(sia, tokens, mask, centers=moved)[:, -1], base[:, -1], atol=1e-4)
    with torch.no_grad():
        attn.distance_weight.fill_(-20.0)  # softplus ~ 0: no penalty
        far = run(sia, tokens, mask, centers=centers * 50)
        attn.distance_weight.fill_(2.0)
        near = run(sia, tokens, mask, centers=centers * 50)
    assert not torch.allclose(far, near, atol=1e-3)

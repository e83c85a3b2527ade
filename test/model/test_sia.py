"""SIA: attention over people and frames, with masks, causality and permutation equivariance."""
import pytest
import torch

from hmr_ros.model.sia import SIA, attention_bias

B, T, K, D = 2, 4, 5, 32


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
    a, b = sia(tokens, mask, causal), sia(altered, mask, causal)
    assert torch.allclose(a[mask], b[mask], atol=1e-5)


def test_permuting_people_permutes_outputs(sia):
    tokens, mask = inputs()
    perms = [torch.randperm(K) for _ in range(T)]  # a different shuffle in every frame
    pt = torch.stack([tokens[:, t, p] for t, p in enumerate(perms)], 1)
    pm = torch.stack([mask[:, t, p] for t, p in enumerate(perms)], 1)
    out, pout = sia(tokens, mask), sia(pt, pm)
    expected = torch.stack([out[:, t, p] for t, p in enumerate(perms)], 1)
    assert torch.allclose(pout[pm], expected[pm], atol=1e-5)


def test_causal_frames_never_see_newer_frames(sia):
    tokens, mask = inputs()
    changed = tokens.clone()
    changed[:, 2:] += torch.randn_like(changed[:, 2:])
    a, b = sia(tokens, mask, causal=True), sia(changed, mask, causal=True)
    assert torch.allclose(a[:, :2][mask[:, :2]], b[:, :2][mask[:, :2]], atol=1e-6)
    # ...and without the causal rule they do, so the test above is not vacuous.
    a, b = sia(tokens, mask, causal=False), sia(changed, mask, causal=False)
    assert not torch.allclose(a[:, :2][mask[:, :2]], b[:, :2][mask[:, :2]], atol=1e-3)


def test_people_interact_within_a_frame(sia):
    tokens, mask = inputs()
    mask[:] = True
    changed = tokens.clone()
    changed[:, -1, 1] += torch.randn(D)  # not a constant: LayerNorm ignores uniform shifts
    a, b = sia(tokens, mask), sia(changed, mask)
    assert not torch.allclose(a[:, -1, 0], b[:, -1, 0], atol=1e-4)


def test_an_empty_window_gives_finite_outputs(sia):
    tokens, _ = inputs()
    out = sia(tokens, torch.zeros(B, T, K, dtype=torch.bool))
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
        sia(torch.zeros(1, 9, K, D), torch.ones(1, 9, K, dtype=torch.bool))

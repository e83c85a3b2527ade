"""FrameBuffer: a fixed ring of per-frame tokens, read back oldest-first."""
import torch

from hmr_ros.frame_buffer import FrameBuffer, FrameSlot


def push(buf: FrameBuffer, value: float, stamp: float) -> None:
    k, d = buf.max_people, buf.dim
    buf.push(torch.full((k, d), value), torch.ones(k, dtype=torch.bool), torch.zeros(k, 2), torch.full((k,), value),
             FrameSlot(stamp, None))


def test_unwritten_slots_are_masked_and_come_first():
    buf = FrameBuffer(window=4, max_people=2, dim=3)
    push(buf, 1.0, 0.0)
    push(buf, 2.0, 0.1)
    tokens, mask, centers = buf.window_view()
    assert mask.tolist() == [[False, False], [False, False], [True, True], [True, True]]
    assert centers.shape == (4, 2, 2)
    assert tokens[2, 0, 0] == 1.0 and tokens[3, 0, 0] == 2.0
    assert len(buf) == 2


def test_ring_keeps_the_last_window_frames_in_order():
    buf = FrameBuffer(window=3, max_people=1, dim=1)
    for i in range(7):
        push(buf, float(i), i / 10)
    tokens, mask, _ = buf.window_view()
    assert tokens.flatten().tolist() == [4.0, 5.0, 6.0] and mask.all()
    assert buf.frame(0)[0].stamp == 0.6 and buf.frame(2)[0].stamp == 0.4


def test_reset_forgets_everything():
    buf = FrameBuffer(window=3, max_people=2, dim=2)
    for i in range(3):
        push(buf, 1.0, i)
    buf.reset()
    _, mask, _ = buf.window_view()
    assert not mask.any() and len(buf) == 0 and buf.frame(0)[0] is None

"""Frames from recordings: videos, image folders and rosbag2 (sqlite3 and MCAP) written by the tests."""
import numpy as np
import pytest

from hmr_ros.recordings.sources import BagSource, FolderSource, RecordingError, VideoSource, open_source

from recording_files import FPS, FRAME_ID, walking_clip, write_bag, write_folder, write_video


@pytest.fixture
def clip():
    return walking_clip()


def test_image_folder_in_natural_order_with_fps_stamps(clip, tmp_path):
    frames = [f.rgb for f in clip.frames]
    folder = write_folder(tmp_path / "imgs", frames + frames[:4])  # 12 files: frame_10 must follow frame_9
    with open_source(folder, fps=10.0, frame_id="cam") as source:
        assert isinstance(source, FolderSource) and source.frame_count == 12
        got = list(source)
    assert [f.index for f in got] == list(range(12)) and [f.stamp for f in got] == pytest.approx(np.arange(12) / 10)
    assert np.array_equal(got[10].rgb, frames[2]) and got[0].frame_id == "cam" and got[0].K is None


def test_an_unreadable_image_file_is_an_error_frame_not_the_end(clip, tmp_path):
    folder = write_folder(tmp_path / "imgs", [f.rgb for f in clip.frames[:3]])
    (folder / "frame_1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    got = list(open_source(folder))
    assert [f.rgb is None for f in got] == [False, True, False]
    assert "frame_1.png: not a readable image" in got[1].error and got[2].stamp == pytest.approx(2 / 30)


def test_video_frames_and_stamps(clip, tmp_path):
    path = write_video(tmp_path / "walk.mp4", [f.rgb for f in clip.frames])
    with open_source(path) as source:
        assert isinstance(source, VideoSource) and source.frame_count == 8 and source.fps == pytest.approx(FPS)
        got = list(source)
    assert len(got) == 8 and [f.stamp for f in got] == pytest.approx(np.arange(8) / FPS)
    # mp4v is lossy: the frames are the clip's, approximately
    assert np.abs(got[3].rgb.astype(int) - clip.frames[3].rgb).mean() < 12


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
@pytest.mark.parametrize("compressed", [False, True])
def test_bag_images_with_header_stamps_frame_ids_and_camera_info(clip, tmp_path, storage, compressed):
    frames = [f.rgb for f in clip.frames[:4]]
    K = clip.K * [[1.1], [1.1], [1]]
    path = write_bag(tmp_path / "bag", frames, K, storage=storage, compressed=compressed)
    with open_source(path) as source:
        assert isinstance(source, BagSource) and source.frame_count == 4
        assert source.info_topic == "/front/camera_info" and source.image_topic.startswith("/front/image_raw")
        got = list(source)
    assert [f.stamp for f in got] == pytest.approx(1700000000.25 + np.arange(4) / FPS, abs=1e-6)
    assert all(f.frame_id == FRAME_ID and np.allclose(f.K, K) for f in got)
    assert np.array_equal(got[2].rgb, frames[2])  # raw rgb8 and PNG are lossless


def test_a_single_mcap_file_opens_too(clip, tmp_path):
    path = write_bag(tmp_path / "bag", [f.rgb for f in clip.frames[:2]], clip.K, storage="mcap")
    (mcap,) = path.glob("*.mcap")
    assert len(list(open_source(mcap))) == 2


def test_a_corrupt_image_message_is_an_error_frame(clip, tmp_path):
    path = write_bag(tmp_path / "bag", [f.rgb for f in clip.frames[:4]], clip.K, corrupt={1})
    got = list(open_source(path))
    assert [f.rgb is None for f in got] == [False, True, False, False]
    assert "short_data" in got[1].error and got[1].frame_id == FRAME_ID


def test_bag_topic_choice_is_explicit_when_ambiguous(clip, tmp_path):
    path = write_bag(tmp_path / "bag", [f.rgb for f in clip.frames[:2]], clip.K, extra_image_topic="/rear/image_raw")
    with pytest.raises(RecordingError, match="several image topics .*--image-topic"):
        open_source(path)
    with open_source(path, image_topic="/rear/image_raw") as source:
        assert len(list(source)) == 2
    with pytest.raises(RecordingError, match="no topic /nope; its topics: /front/camera_info"):
        open_source(path, image_topic="/nope")
    with pytest.raises(RecordingError, match="is a sensor_msgs/msg/CameraInfo, not a"):
        open_source(path, image_topic="/front/camera_info")


def test_a_bag_without_camera_info_has_no_K(clip, tmp_path):
    path = write_bag(tmp_path / "bag", [f.rgb for f in clip.frames[:2]], clip.K, with_info=False)
    with open_source(path) as source:
        assert "no CameraInfo topic" in source.description
        assert all(f.K is None for f in source)


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.mp4", "does not exist"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "holds no image files"),
    (lambda p: (p / "notes.txt").write_text("hello") and p / "notes.txt", "OpenCV cannot open"),
    (lambda p: (p / "bad.mcap").write_bytes(b"not an mcap") and p / "bad.mcap", "cannot read"),
])
def test_unreadable_recordings_say_why(tmp_path, make, message):
    with pytest.raises(RecordingError, match=message):
        open_source(make(tmp_path))


def test_fps_must_be_positive(clip, tmp_path):
    with pytest.raises(RecordingError, match="--fps must be a positive number"):
        open_source(write_folder(tmp_path / "f", [clip.frames[0].rgb]), fps=0.0)

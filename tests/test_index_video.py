import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from personsearch import media  # noqa: E402
from personsearch.index import GalleryIndex, build_gallery_index, default_index_path  # noqa: E402
from personsearch.index.shards import list_pictures  # noqa: E402
from test_index_fake_model import FakeSearchModel, embedding_of  # noqa: E402

# Frame i is split in two halves: the left half's colour encodes the frame number.
COLOURS = [(25 * i, 200 - 15 * i, 60) for i in range(10)]


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for colour in COLOURS:
        frame = np.zeros((48, 64, 3), dtype=np.uint8)
        frame[:, :32] = colour[::-1]  # BGR
        frame[:, 32:] = (255, 255, 255)
        writer.write(frame)
    writer.release()
    return path


def test_video_frames_with_stride(video):
    model = FakeSearchModel()
    index = build_gallery_index(model, video, model_id="fake", score_threshold=0.0, frame_stride=3, progress=False)
    names = [image.name for image in index.images]
    assert names == ["clip.avi#frame000000", "clip.avi#frame000003", "clip.avi#frame000006", "clip.avi#frame000009"]
    assert model.images_seen == 4
    assert default_index_path(video) == video.parent / ".clip.avi.personsearch_index.npz"
    assert GalleryIndex.load(default_index_path(video)).frame_stride == 3
    for position, frame in enumerate((0, 3, 6, 9)):
        left = index.features[(index.image_index == position)][0].astype(np.float32)
        assert float(left @ embedding_of(COLOURS[frame])) > 0.98

    again = FakeSearchModel()
    build_gallery_index(again, video, model_id="fake", score_threshold=0.0, frame_stride=3, progress=False)
    assert again.images_seen == 0
    finer = FakeSearchModel()
    index = build_gallery_index(finer, video, model_id="fake", score_threshold=0.0, frame_stride=2, progress=False)
    assert len(index.images) == 5 and finer.images_seen == 3  # frames 2, 4, 8 new; 0 and 6 reused


def test_frame_locations_reopen_the_right_frame(video):
    location = str(video.resolve()) + "#frame000007"
    assert media.split_location(location) == (video.resolve(), 7)
    assert media.split_location("/photos/a#frame000001.jpg")[1] is None
    image = media.open_images([location])[location]
    assert image.size == (64, 48)
    assert np.abs(np.asarray(image)[24, 10].astype(int) - COLOURS[7]).max() < 12
    with pytest.raises(media.UnreadableImageError, match="frame000099"):
        media.open_images([str(video) + "#frame000099"])


def test_listing_counts_frames_and_rejects_bad_stride(video):
    listing = list_pictures(video, frame_stride=3)
    assert [state.name for state in listing.pictures] == [f"clip.avi#frame{f:06d}" for f in (0, 3, 6, 9)]
    assert listing.video_fps == {"clip.avi": 10.0}
    with pytest.raises(ValueError, match="frame_stride"):
        list_pictures(video, frame_stride=0)


def test_unopenable_video_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ValueError, match="cannot open video"):
        build_gallery_index(FakeSearchModel(), bad, model_id="fake", progress=False)

"""Search on real video (vtest.avi: campus footage, no annotations). Slow; needs the file:
scripts/fetch_vtest.sh puts it in data/real/. Without identities to score against, the check is
self-consistency: a person detected in one sampled frame is found again, by similarity, in the
next sampled frame at nearly the same place."""

import json
from pathlib import Path

import numpy as np
import pytest

from personsearch.cli import main
from personsearch.index.gallery_index import GalleryIndex

VTEST = Path(__file__).resolve().parents[1] / "data" / "real" / "vtest.avi"


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.slow
def test_search_real_video_with_the_ssdlite_detector(tmp_path, capsys):
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} is absent; fetch it with scripts/fetch_vtest.sh")
    index_path = tmp_path / "vtest.npz"
    # the query: frame 0 of the video, a person box found by a first indexing pass below
    gallery_args = ["--gallery", str(VTEST), "--frame-stride", "10", "--index", str(index_path),
                    "--detector", "ssdlite", "--device", "cpu"]
    frames = tmp_path / "frame0.png"
    import cv2  # the video reader personsearch uses

    capture = cv2.VideoCapture(str(VTEST))
    ok, frame = capture.read()
    capture.release()
    assert ok
    cv2.imwrite(str(frames), frame)
    assert main(["search", *gallery_args, "--query", str(frames), "--box", "0,0,50,100",
                 "--out", str(tmp_path / "warmup")]) == 0
    capsys.readouterr()
    index = GalleryIndex.load(index_path)
    counts = np.bincount(index.image_index, minlength=len(index.images))
    assert len(index.images) == 80 and np.mean(counts > 0) >= 0.9  # people in nearly every sampled frame

    matched = pairs = 0
    chance = []
    for k in range(len(index.images) - 1):
        here, there = np.where(index.image_index == k)[0], np.where(index.image_index == k + 1)[0]
        if len(there) < 2:
            continue
        for i in here:
            if max(_iou(index.boxes[i], index.boxes[j]) for j in there) < 0.5:
                continue  # not re-detected in the next sampled frame
            best = there[np.argmax(index.features[there] @ index.features[i])]
            pairs += 1
            matched += _iou(index.boxes[i], index.boxes[best]) >= 0.5
            chance.append(1.0 / len(there))
    assert pairs >= 20
    assert matched / pairs >= np.mean(chance) + 0.3

    # querying again with a real person box reuses the saved index and writes the report
    first = np.where(index.image_index == 0)[0][np.argmax(index.scores[index.image_index == 0])]
    box = ",".join(f"{v:.0f}" for v in index.boxes[first])
    assert main(["search", *gallery_args, "--query", str(frames), "--box", box, "--top-k", "5",
                 "--out", str(tmp_path / "report")]) == 0
    assert "0 processed, 80 reused" in capsys.readouterr().out
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert len(results["hits"]) == 5 and (tmp_path / "report" / "report.html").is_file()

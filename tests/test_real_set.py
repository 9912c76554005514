"""The shipped real-footage annotation (vtest.avi, identities checked by eye) through PRW's loader."""

import json
from pathlib import Path

import numpy as np
import pytest

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.prw import load_prw
from personsearch.data.real.vtest import (
    annotation_path,
    blank_frames,
    build_real_set,
    frame_of_stem,
    load_annotation,
    load_real_set,
    write_prw_layout,
)

VTEST = Path(__file__).resolve().parents[1] / "data" / "real" / "vtest.avi"


@pytest.fixture(scope="module")
def annotation():
    return load_annotation()


@pytest.fixture(scope="module")
def layout(annotation, tmp_path_factory):
    return write_prw_layout(annotation, tmp_path_factory.mktemp("vtest-prw"), blank_frames(annotation))


def test_annotation_is_small_and_names_people_seen_far_apart(annotation):
    assert annotation_path().stat().st_size < 20_000
    assert (annotation.width, annotation.height, annotation.num_video_frames) == (768, 576, 795)
    spans = {}
    for frame, rows in annotation.frames.items():
        for pid in rows[rows[:, 0] > 0, 0]:
            spans.setdefault(int(pid), []).append(frame)
    for query in annotation.queries:
        frames = np.asarray(spans[query.pid])
        far = np.abs(frames - query.frame) >= annotation.min_gap_seconds * annotation.fps
        assert far.sum() >= 5, f"query {query} has too few time-separated appearances"


def test_prw_loader_reads_the_layout(layout, annotation):
    data = load_prw(layout)
    assert data.train == [] and len(data.gallery) == len(annotation.frames)
    assert sum(len(r.boxes) for r in data.gallery) == sum(len(rows) for rows in annotation.frames.values())
    assert {int(p) for r in data.gallery for p in r.pids if p >= 0} == set(annotation.identities)
    assert b"\r\n" in (layout / "query_info.txt").read_bytes()
    record = next(r for r in data.gallery if frame_of_stem(r.name) == annotation.queries[0].frame)
    x, y, w, h = annotation.queries[0].box_xywh
    assert [x, y, x + w, y + h] in record.boxes.tolist()


def test_galleries_leave_out_the_query_neighbourhood(layout, annotation):
    data = load_real_set(layout)
    gap = annotation.min_gap_seconds * annotation.fps
    assert len(data.queries) == len(annotation.queries)
    for query in data.queries:
        here = frame_of_stem(query.name)
        frames = [frame_of_stem(entry.name) for entry in query.gallery]
        assert frames and all(abs(f - here) >= gap for f in frames)
        holding = [entry for entry in query.gallery if entry.gt_box is not None]
        assert holding and query.gallery[: len(holding)] == tuple(holding)
    plain = load_real_set(layout, min_gap_seconds=0)
    assert all(query.gallery is None for query in plain.queries)


def test_bad_annotation_names_the_problem(tmp_path):
    raw = json.loads(annotation_path().read_text())
    raw["queries"][0]["box_xywh"] = [1, 2, 3, 4]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(DatasetFormatError, match="query 0.*not annotated"):
        load_annotation(bad)


def test_frames_of_the_wrong_size_are_refused(annotation, tmp_path):
    from PIL import Image

    frames = ((i, Image.new("RGB", (64, 48))) for i in sorted(annotation.frames))
    with pytest.raises(ValueError, match="768x576"):
        write_prw_layout(annotation, tmp_path, frames)


@pytest.mark.skipif(not VTEST.is_file(), reason="data/real/vtest.avi is absent (scripts/fetch_vtest.sh)")
def test_build_from_the_video(tmp_path, annotation):
    root = build_real_set(VTEST, tmp_path / "vtest-prw")
    data = load_real_set(root)
    assert len(data.gallery) == len(annotation.frames)
    from PIL import Image

    picture = np.asarray(Image.open(data.gallery[0].image_path))
    assert picture.shape == (576, 768, 3) and picture.std() > 20  # real pixels, not a blank frame

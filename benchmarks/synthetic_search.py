"""A synthetic scene search test set of any size, with PRW's structure (cameras, one
gallery for all queries, query frames inside the gallery) and a plausible detector:
jittered boxes around most people, some misses, false positives, noisy identity features."""

from __future__ import annotations

import numpy as np

from personsearch.data.records import UNLABELLED, SceneQuery, SceneRecord, SceneSearchData
from personsearch.evaluation.detections import GalleryDetections, QueryDetections


def synthetic_search_problem(num_images=6112, num_queries=2057, num_pids=450, people_per_image=12,
                             false_positives=8, dim=256, num_cameras=6, seed=0):
    """Returns (data, gallery detections, query_feats, query detections)."""
    rng = np.random.default_rng(seed)
    protos = _unit(rng.normal(size=(num_pids, dim)))
    n_people = rng.integers(people_per_image // 2, people_per_image * 3 // 2 + 1, size=num_images)
    owner = np.repeat(np.arange(num_images), n_people)
    n = len(owner)
    xy = rng.uniform(0, 1500, size=(n, 2))
    wh = np.stack([rng.uniform(20, 120, n), rng.uniform(50, 300, n)], axis=1)
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    pids = np.where(rng.random(n) < 0.7, rng.integers(0, num_pids, n), UNLABELLED)
    cameras = rng.integers(1, num_cameras + 1, size=num_images)
    names = np.array([f"c{cameras[i]}s1_{i:06d}.jpg" for i in range(num_images)])
    starts = np.concatenate([[0], np.cumsum(n_people)])
    gallery = [SceneRecord(name=str(names[i]), image_path=str(names[i]), boxes=boxes[starts[i]:starts[i + 1]],
                           pids=pids[starts[i]:starts[i + 1]].astype(np.int64), camera=int(cameras[i]))
               for i in range(num_images)]

    def person_feats(pid_array, noise):
        base = np.where((pid_array >= 0)[:, None], protos[np.maximum(pid_array, 0)],
                        _unit(rng.normal(size=(len(pid_array), dim))))
        return _unit(base + noise * rng.normal(size=(len(pid_array), dim)) / np.sqrt(dim))

    found = rng.random(n) < 0.9
    jitter = rng.normal(scale=0.08, size=(n, 4)) * np.concatenate([wh, wh], axis=1)
    det_boxes = (boxes + jitter)[found]
    det_image = owner[found]
    det_scores = rng.uniform(0.45, 1.0, size=len(det_image))
    det_feats = person_feats(pids[found], noise=NOISE)
    n_fp = rng.poisson(false_positives, size=num_images)
    fp_image = np.repeat(np.arange(num_images), n_fp)
    fp_xy = rng.uniform(0, 1500, size=(len(fp_image), 2))
    fp_boxes = np.concatenate([fp_xy, fp_xy + rng.uniform(20, 200, size=(len(fp_image), 2))], axis=1)
    dets = GalleryDetections(
        names=names,
        image_index=np.concatenate([det_image, fp_image]).astype(np.int64),
        boxes=np.concatenate([det_boxes, fp_boxes]).astype(np.float32),
        scores=np.concatenate([det_scores, rng.uniform(0.0, 0.8, size=len(fp_image))]).astype(np.float32),
        feats=np.concatenate([det_feats, _unit(rng.normal(size=(len(fp_image), dim)))]).astype(np.float32),
    )

    labelled = np.flatnonzero(pids >= 0)
    picks = rng.choice(labelled, size=num_queries, replace=False)
    queries = [SceneQuery(name=str(names[owner[b]]), image_path=str(names[owner[b]]), box=boxes[b],
                          pid=int(pids[b]), camera=int(cameras[owner[b]])) for b in picks]
    query_feats = person_feats(pids[picks], noise=NOISE).astype(np.float32)
    # context detections: the other people of each query image
    ctx_query, ctx_box = [], []
    for q, b in enumerate(picks):
        others = [j for j in range(starts[owner[b]], starts[owner[b] + 1]) if j != b]
        ctx_query.extend([q] * len(others))
        ctx_box.extend(others)
    ctx_box = np.asarray(ctx_box, dtype=np.int64)
    query_dets = QueryDetections(
        image_index=np.asarray(ctx_query, dtype=np.int64),
        boxes=boxes[ctx_box],
        scores=rng.uniform(0.5, 1.0, size=len(ctx_box)).astype(np.float32),
        feats=person_feats(pids[ctx_box], noise=NOISE).astype(np.float32),
    )
    data = SceneSearchData(name="synthetic-prw", root="", train=[], gallery=gallery, queries=queries,
                           num_train_pids=0)
    return data, dets, query_feats, query_dets


def per_image_lists(dets: GalleryDetections):
    """SeqNet's layout: per gallery image an (n, 5) x1y1x2y2score array and an (n, D) feature array."""
    order = np.argsort(dets.image_index, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(dets.image_index, minlength=len(dets.names)))])
    boxes_scores = np.concatenate([dets.boxes, dets.scores[:, None]], axis=1)[order]
    feats = dets.feats[order]
    return ([boxes_scores[ptr[i]:ptr[i + 1]] for i in range(len(dets.names))],
            [feats[ptr[i]:ptr[i + 1]] for i in range(len(dets.names))])


def seqnet_query_lists(data: SceneSearchData, query_feats: np.ndarray, query_dets: QueryDetections):
    """SeqNet's CBGM inputs: per query image an (n, 5) x1y1x2y2score array with the query box
    first (score 1), then the query's detections in file order, and their features likewise."""
    boxes_scores, feats = [], []
    for q, query in enumerate(data.queries):
        rows = np.flatnonzero(query_dets.image_index == q)
        first = np.concatenate([np.asarray(query.box, np.float32), [1.0]])[None]
        boxes_scores.append(np.concatenate([first, np.concatenate([query_dets.boxes[rows],
                                                                   query_dets.scores[rows, None]], axis=1)]))
        feats.append(np.concatenate([query_feats[q:q + 1], query_dets.feats[rows]]))
    return boxes_scores, feats


NOISE = 2.2


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)

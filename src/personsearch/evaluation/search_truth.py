"""Per-query galleries and ground truth of the scene search protocols (CUHK-SYSU and PRW).

- A query with its own gallery (`SceneQuery.gallery`, CUHK-SYSU `TestG{N}`): those images,
  duplicates skipped (the first occurrence wins); an entry with a `gt_box` holds the person.
- A query without one (PRW's "all" protocol): every gallery image except the query's own
  frame; with `cross_camera` also without the frames of the query's camera. The person is
  in the images whose records carry its pid (the first such box if it appears twice).
`count_gt` counts every gallery image that holds the person, whatever the detector found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from personsearch.data.records import UNLABELLED, SceneSearchData


@dataclass(frozen=True)
class SearchTruth:
    """gallery_mask (Q, G) bool: image g belongs to query q's gallery.
    gt_ptr (Q+1,): query q's ground truth is rows gt_ptr[q]:gt_ptr[q+1] of
    gt_image (T,) (gallery image index) and gt_box (T, 4)."""

    gallery_mask: np.ndarray
    gt_ptr: np.ndarray
    gt_image: np.ndarray
    gt_box: np.ndarray

    @property
    def count_gt(self) -> np.ndarray:
        return np.diff(self.gt_ptr)


def build_search_truth(data: SceneSearchData, gallery_names: np.ndarray,
                       cross_camera: bool = False) -> SearchTruth:
    """Ground truth of every query of `data`, against the gallery order `gallery_names`."""
    name_to_index = {str(n): i for i, n in enumerate(gallery_names)}
    num_images = len(gallery_names)
    records = {r.name: r for r in data.gallery}
    camera = np.full(num_images, -1, dtype=np.int64)
    for name, i in name_to_index.items():
        if name in records:
            camera[i] = records[name].camera
    pid_image, pid_box, pid_value = _labelled_boxes(data, name_to_index)

    mask = np.zeros((len(data.queries), num_images), dtype=bool)
    gt_images: list[np.ndarray] = []
    gt_boxes: list[np.ndarray] = []
    for q, query in enumerate(data.queries):
        if query.gallery is not None:
            images, boxes = _own_gallery(q, query.gallery, name_to_index, mask)
        else:
            mask[q] = True
            if cross_camera:
                mask[q, camera == query.camera] = False
            own = name_to_index.get(query.name)
            if own is not None:
                mask[q, own] = False
            lo, hi = np.searchsorted(pid_value, [query.pid, query.pid + 1])
            keep = mask[q, pid_image[lo:hi]]
            images, boxes = pid_image[lo:hi][keep], pid_box[lo:hi][keep]
        gt_images.append(images)
        gt_boxes.append(boxes)
    ptr = np.concatenate([[0], np.cumsum([len(x) for x in gt_images])]).astype(np.int64)
    return SearchTruth(
        gallery_mask=mask,
        gt_ptr=ptr,
        gt_image=np.concatenate(gt_images).astype(np.int64) if gt_images else np.zeros(0, np.int64),
        gt_box=np.concatenate(gt_boxes).reshape(-1, 4).astype(np.float64) if gt_boxes else np.zeros((0, 4)),
    )


def _own_gallery(q, entries, name_to_index, mask) -> tuple[np.ndarray, np.ndarray]:
    images, boxes = [], []
    for entry in entries:
        i = name_to_index.get(entry.name)
        if i is None:
            raise ValueError(f"query {q}: gallery image {entry.name!r} is not in the gallery")
        if mask[q, i]:
            continue
        mask[q, i] = True
        if entry.gt_box is not None:
            images.append(i)
            boxes.append(np.asarray(entry.gt_box, dtype=np.float64).reshape(4))
    return np.asarray(images, dtype=np.int64), np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def _labelled_boxes(data: SceneSearchData, name_to_index: dict[str, int]):
    """Every labelled gallery box, one per (pid, image), sorted by pid then image."""
    images, boxes, pids = [], [], []
    for record in data.gallery:
        i = name_to_index.get(record.name)
        if i is None or len(record.pids) == 0:
            continue
        pids.append(np.asarray(record.pids, dtype=np.int64))
        boxes.append(np.asarray(record.boxes, dtype=np.float64).reshape(-1, 4))
        images.append(np.full(len(record.pids), i, dtype=np.int64))
    if not pids:
        return np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0, np.int64)
    image, box, pid = np.concatenate(images), np.concatenate(boxes), np.concatenate(pids)
    labelled = pid != UNLABELLED
    image, box, pid = image[labelled], box[labelled], pid[labelled]
    order = np.lexsort((np.arange(len(pid)), image, pid))
    image, box, pid = image[order], box[order], pid[order]
    first = np.concatenate([[True], (pid[1:] != pid[:-1]) | (image[1:] != image[:-1])])
    return image[first], box[first], pid[first]

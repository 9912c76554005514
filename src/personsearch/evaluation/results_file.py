"""RESULTS.npz: a model's outputs on a scene search test set, scored by `personsearch eval-results`.

Arrays (np.savez, no pickled objects):
- gallery_names (G,) str: every gallery image of the dataset, as the dataset names it
  (e.g. "s1.jpg", "c1s1_000151.jpg"); images without detections are listed too.
- det_image_index (M,) int: index into gallery_names of each detection.
- det_boxes (M, 4) float: x1, y1, x2, y2 in pixels of the original image.
- det_scores (M,) float: detection confidence (the protocol keeps scores >= 0.5).
- det_feats (M, D) float: L2-normalised identity features (similarity = dot product).
- query_feats (Q, D) float: features of the ground-truth query boxes, in the dataset
  loader's query order.
Optional, needed by CBGM (all four or none):
- query_det_image_index (K,) int: index of the query whose image holds the detection.
- query_det_boxes (K, 4), query_det_scores (K,), query_det_feats (K, D): the detector's
  output on the query images (the query person itself may or may not be among them).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from personsearch.data.records import SceneSearchData
from personsearch.evaluation.detections import GalleryDetections, QueryDetections, check_query_feats
from personsearch.utils.atomic import atomic_savez

GALLERY_KEYS = ("gallery_names", "det_image_index", "det_boxes", "det_scores", "det_feats")
QUERY_DET_KEYS = ("query_det_image_index", "query_det_boxes", "query_det_scores", "query_det_feats")
REQUIRED_KEYS = GALLERY_KEYS + ("query_feats",)


class ResultsFormatError(ValueError):
    def __init__(self, file: str | os.PathLike, problem: str) -> None:
        self.file = str(file)
        self.problem = problem
        super().__init__(f"{self.file}: {problem}")


@dataclass(frozen=True)
class SearchResults:
    gallery: GalleryDetections
    query_feats: np.ndarray  # (Q, D)
    query_dets: QueryDetections | None = None

    def check(self) -> None:
        check_query_feats(self.query_feats, self.gallery.dim)
        if self.query_dets is not None:
            self.query_dets.check(len(self.query_feats), self.gallery.dim)


def save_results(path: str | os.PathLike, results: SearchResults) -> None:
    results.check()
    g = results.gallery
    arrays = {"gallery_names": g.names, "det_image_index": g.image_index, "det_boxes": g.boxes,
              "det_scores": g.scores, "det_feats": g.feats, "query_feats": results.query_feats}
    if results.query_dets is not None:
        d = results.query_dets
        arrays.update(query_det_image_index=d.image_index, query_det_boxes=d.boxes,
                      query_det_scores=d.scores, query_det_feats=d.feats)
    atomic_savez(path, **arrays)


def load_results(path: str | os.PathLike) -> SearchResults:
    """Read and validate a RESULTS.npz; errors name the file, the array and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ResultsFormatError(path, f"not a readable .npz file ({exc})") from None
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise ResultsFormatError(path, f"missing arrays: {', '.join(missing)}")
    unknown = sorted(set(arrays) - set(REQUIRED_KEYS) - set(QUERY_DET_KEYS))
    if unknown:
        raise ResultsFormatError(path, f"unknown arrays: {', '.join(unknown)} (expected "
                                       f"{', '.join(REQUIRED_KEYS + QUERY_DET_KEYS)})")
    present = [k for k in QUERY_DET_KEYS if k in arrays]
    if present and len(present) != len(QUERY_DET_KEYS):
        absent = [k for k in QUERY_DET_KEYS if k not in arrays]
        raise ResultsFormatError(path, f"query detections are incomplete: missing {', '.join(absent)}")
    try:
        gallery = GalleryDetections(*(arrays[k] for k in GALLERY_KEYS))
        query_dets = QueryDetections(*(arrays[k] for k in QUERY_DET_KEYS)) if present else None
        results = SearchResults(gallery, arrays["query_feats"], query_dets)
        results.check()
    except ValueError as exc:
        raise ResultsFormatError(path, str(exc)) from None
    return results


def check_against_dataset(results: SearchResults, data: SceneSearchData, source: str | os.PathLike) -> None:
    """The results must cover exactly the dataset's gallery images and its queries."""
    names = set(results.gallery.names.tolist())
    expected = {r.name for r in data.gallery}
    unknown = sorted(names - expected)
    if unknown:
        raise ResultsFormatError(source, f"gallery_names: {len(unknown)} names are not gallery images "
                                         f"of {data.name}, e.g. {unknown[:3]}")
    absent = sorted(expected - names)
    if absent:
        raise ResultsFormatError(source, f"gallery_names: {len(absent)} gallery images of {data.name} "
                                         f"are missing, e.g. {absent[:3]} (list images without "
                                         f"detections too)")
    if len(results.query_feats) != len(data.queries):
        raise ResultsFormatError(source, f"query_feats: {len(results.query_feats)} rows but {data.name} "
                                         f"has {len(data.queries)} queries")

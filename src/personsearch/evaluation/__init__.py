"""Evaluation protocols: scene search (CUHK-SYSU, PRW), detection, text-to-image retrieval.

Every metric is a plain function on arrays; the evaluator objects (reset / process /
evaluate) only collect model outputs and call them, so scores can come from any model or
from a results file.
"""

from personsearch.evaluation.average_precision import average_precision
from personsearch.evaluation.boxes import paired_iou, search_iou_threshold
from personsearch.evaluation.cbgm import CBGM, CBGM_PRESETS, cbgm_rerank
from personsearch.evaluation.detection import DetectionMetrics, detection_metrics
from personsearch.evaluation.detections import GalleryDetections, QueryDetections
from personsearch.evaluation.results_file import (
    ResultsFormatError,
    SearchResults,
    check_against_dataset,
    load_results,
    save_results,
)
from personsearch.evaluation.scene_evaluator import SceneSearchEvaluator, evaluate_search_results
from personsearch.evaluation.scene_search import SearchMetrics, scene_search_metrics
from personsearch.evaluation.search_truth import SearchTruth, build_search_truth
from personsearch.evaluation.text_retrieval import TextRetrievalEvaluator, text_retrieval_metrics

__all__ = [
    "CBGM",
    "CBGM_PRESETS",
    "DetectionMetrics",
    "GalleryDetections",
    "QueryDetections",
    "ResultsFormatError",
    "SceneSearchEvaluator",
    "SearchMetrics",
    "SearchResults",
    "SearchTruth",
    "TextRetrievalEvaluator",
    "average_precision",
    "build_search_truth",
    "cbgm_rerank",
    "check_against_dataset",
    "detection_metrics",
    "evaluate_search_results",
    "load_results",
    "paired_iou",
    "save_results",
    "scene_search_metrics",
    "search_iou_threshold",
    "text_retrieval_metrics",
]

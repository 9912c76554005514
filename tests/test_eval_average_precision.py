import numpy as np
import pytest

from personsearch.evaluation import average_precision, paired_iou, search_iou_threshold


def test_hand_computed_ap():
    # ranking: T F T F -> (1/1 + 2/3) / 2
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(5 / 6)


def test_ties_form_one_step():
    # the positive tied with a negative gets precision 1/2, as in sklearn
    assert average_precision([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


def test_no_positive_is_zero():
    assert average_precision([0, 0, 0], [0.3, 0.2, 0.1]) == 0.0


@pytest.mark.parametrize("seed", range(20))
def test_matches_sklearn_on_random_cases(seed):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    labels = rng.random(n) < rng.uniform(0.05, 0.8)
    labels[rng.integers(n)] = True
    scores = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # coarse rounding makes ties
    expected = sklearn_metrics.average_precision_score(labels, scores)
    assert average_precision(labels, scores) == pytest.approx(expected, abs=1e-12)


def test_paired_iou_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    np.testing.assert_allclose(paired_iou(a, b), [1.0, 50 / 150, 0.0, 0.0])


def test_search_iou_threshold_rule():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 100, 200], [5, 5, 20, 25]])
    # 10x10: 100/(20*20); 100x200: 0.866 capped at 0.5; 15x20: 300/(25*30)
    np.testing.assert_allclose(search_iou_threshold(boxes), [0.25, 0.5, 0.4])

"""Evaluation: the numbers of pycocotools' COCOeval, to the last digit."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import segmask as sm
from tests.helpers import perturbed, response_of, sample


def hand_written_cocoeval(gt_path: Path, dt_path: Path, iou_type: str) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(str(dt_path))
        e = COCOeval(gt, dt, iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return [float(v) for v in e.stats]


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_evaluate_equals_a_hand_written_cocoeval_to_the_last_digit(tmp_path: Path, iou_type: str) -> None:
    truth = sample()
    gt_path = tmp_path / "gt.json"
    report = sm.to_coco([("sample.png", truth), ("second.png", truth[::2])], gt_path)
    predicted = [
        ("sample.png", response_of(perturbed(truth, 1))),
        ("second.png", response_of(perturbed(truth[::2], 2))),
    ]  # fmt: skip
    dt_path = tmp_path / "dt.json"
    sm.to_coco_results(predicted, dt_path, ground_truth=gt_path)
    expected = hand_written_cocoeval(gt_path, dt_path, iou_type)
    ours = sm.evaluate(gt_path, dt_path, iou_type=iou_type)
    assert [ours[k] for k in sm.METRICS] == expected  # exact, not approximate
    assert 0 < ours["AP"] < 1
    # segmask objects in, the same numbers out
    objects = sm.evaluate([("sample.png", truth), ("second.png", truth[::2])], predicted, iou_type=iou_type)
    assert [objects[k] for k in sm.METRICS] == expected
    assert set(ours["per_class"]) == set(report.categories)
    assert all(-1 <= v <= 1 for v in ours["per_class"].values())


def test_evaluate_perfect_and_empty_predictions() -> None:
    truth = sample()
    perfect = sm.evaluate([("s.png", truth)], [("s.png", truth)])
    assert perfect["AP"] == 1.0 and perfect["AP50"] == 1.0
    empty = sm.evaluate([("s.png", truth)], [])
    assert empty["AP"] == 0.0
    with pytest.raises(sm.InputError, match="backend must be one of"):
        sm.evaluate([("s.png", truth)], [], backend="fast")


def test_faster_coco_eval_backend_agrees() -> None:
    truth = sample()
    predicted = [("s.png", response_of(perturbed(truth, 3)))]
    a = sm.evaluate([("s.png", truth)], predicted)
    b = sm.evaluate([("s.png", truth)], predicted, backend="faster_coco_eval")
    np.testing.assert_allclose([b[k] for k in sm.METRICS], [a[k] for k in sm.METRICS], rtol=0, atol=1e-12)

"""The demo command and the bundled sample it runs on."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as pcm

import segmask as sm
from segmask.cli import main
from segmask.data import _make_sample


def test_bundled_sample_polygons_give_back_the_drawn_shapes() -> None:
    """The sample response was made from known masks; the contour rule must return them exactly."""
    response = resources.files("segmask") / "data" / "sample_response.json"
    preds = sm.Predictions.from_response(response.read_bytes())
    shapes = _make_sample._shapes()
    assert preds.class_name.tolist() == [name for name, _, _ in shapes]
    np.testing.assert_array_equal(preds.masks(rule="contour").to_dense(), np.stack([m > 0 for _, _, m in shapes]))


def test_sample_files_are_what_the_script_makes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_make_sample, "HERE", tmp_path)
    _make_sample.main()
    data = resources.files("segmask") / "data"
    assert (tmp_path / "sample_response.json").read_bytes() == (data / "sample_response.json").read_bytes()
    made = cv2.imread(str(tmp_path / "sample.png"))
    shipped = cv2.imdecode(np.frombuffer((data / "sample.png").read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(made, shipped)


@pytest.mark.parametrize("rule", sm.RULES)
def test_demo_prints_the_table_and_writes_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--rule", rule]) == 0
    printed = capsys.readouterr().out
    records = json.loads((out / "coco.json").read_text())["annotations"]
    preds = sm.Predictions.from_response((resources.files("segmask") / "data" / "sample_response.json").read_bytes())
    masks = preds.masks(rule=rule)  # type: ignore[arg-type]
    assert [r["area"] for r in records] == masks.area.tolist()
    rles = [{"size": r["segmentation"]["size"], "counts": r["segmentation"]["counts"].encode()} for r in records]
    np.testing.assert_array_equal(pcm.decode(rles).transpose(2, 0, 1).astype(bool), masks.to_dense())
    for i, area in enumerate(masks.area.tolist()):
        assert f"{preds.class_name[i]:<8}{preds.confidence[i]:>11.3f}{area:>8}" in printed
    pair = sm.iou(masks[[0]], masks[[1]])[0, 0]
    assert "IoU of the instances that overlap" in printed and f"{pair:.4f}" in printed
    assert str(out / "overlay.png") in printed
    overlay = cv2.imread(str(out / "overlay.png"))
    assert overlay.shape == (360, 480, 3)
    assert not list(out.glob(".*.tmp"))


def test_python_dash_m_runs_the_demo(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "segmask", "demo", "--out", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "d" / "coco.json").exists()


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", "--help"])
    assert info.value.code == 0
    assert "examples:" in capsys.readouterr().out

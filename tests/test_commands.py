"""The command line's other commands, and the Dask path, end to end on files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as pcm

import segmask as sm
from segmask.cli import main
from segmask.testing import FakeRoboflowServer, sample_image_path

KEY = "cli-sentinel-key"


@pytest.fixture
def responses(tmp_path: Path) -> Path:
    """A folder of three responses: the sample, half of it, and one with a bow-tie."""
    raw = json.loads((resources.files("segmask") / "data" / "sample_response.json").read_text())
    folder = tmp_path / "responses"
    folder.mkdir()
    (folder / "a.png.json").write_text(json.dumps(raw))
    (folder / "b.png.json").write_text(json.dumps({**raw, "predictions": raw["predictions"][::2]}))
    bowtie = {**raw["predictions"][0], "points": [{"x": 10, "y": 10}, {"x": 40, "y": 40}, {"x": 40, "y": 10},
                                                  {"x": 10, "y": 40}]}  # fmt: skip
    (folder / "c.png.json").write_text(json.dumps({**raw, "predictions": [bowtie]}))
    return folder


@pytest.mark.parametrize("workers", ["1", "2"])
def test_convert_to_coco_streams_and_matches_to_coco(responses: Path, tmp_path: Path, workers: str) -> None:
    out = tmp_path / "out" / "dataset.json"
    argv = ["convert", str(responses), "--to", "coco", "--out", str(out), "--workers", workers, "--no-progress"]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    items = [(p.name[:-5], sm.Predictions.from_response(p.read_bytes())) for p in sorted(responses.glob("*.json"))]
    sm.to_coco(items, tmp_path / "expected.json")
    expected = json.loads((tmp_path / "expected.json").read_text())
    assert same_dataset(data, expected)
    assert [p.name for p in out.parent.iterdir()] == ["dataset.json"]  # no temporary files left


def same_dataset(a: dict, b: dict) -> bool:
    """Two COCO files with the same contents (the time they were written aside)."""
    a_info, b_info = dict(a["info"]), dict(b["info"])
    a_info.pop("date_created")
    b_info.pop("date_created")
    return a_info == b_info and all(a[k] == b[k] for k in ("images", "categories", "annotations"))


def test_convert_to_results_yolo_and_png(responses: Path, tmp_path: Path) -> None:
    gt = tmp_path / "gt.json"
    assert main(["convert", str(responses), "--to", "coco", "--out", str(gt), "--no-progress"]) == 0
    res = tmp_path / "res.json"
    assert main(["convert", str(responses), "--to", "coco-results", "--gt", str(gt), "--out", str(res),
                 "--no-progress"]) == 0  # fmt: skip
    results = json.loads(res.read_text())
    assert {r["image_id"] for r in results} == {1, 2, 3} and all("score" in r for r in results)
    assert main(["convert", str(responses), "--to", "yolo", "--out", str(tmp_path / "yolo"), "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "yolo").iterdir()) == ["a.txt", "b.txt", "c.txt", "classes.txt"]
    assert main(["convert", str(responses), "--to", "png", "--out", str(tmp_path / "png"), "--no-progress"]) == 0
    [(name, back)] = sm.from_png(tmp_path / "png" / "b.png")
    assert name == "b" and len(back) == 3


def test_eval_prints_the_numbers_of_evaluate(responses: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gt = tmp_path / "gt.json"
    main(["convert", str(responses), "--to", "coco", "--out", str(gt), "--no-progress"])
    capsys.readouterr()
    assert main(["eval", "--gt", str(gt), "--pred", str(responses)]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0].split()[0] == "engine" and lines[0].split()[1] in sm.BACKENDS
    assert lines[1].split() == ["AP", "1.0000"]
    assert "AP per class" not in printed and "confusion" not in printed
    out = tmp_path / "metrics.json"
    args = ["eval", "--gt", str(gt), "--pred", str(responses), "--per-class", "--confusion", "--json", str(out)]
    assert main([*args, "--backend", "pycocotools"]) == 0
    printed = capsys.readouterr().out
    assert "AP per class" in printed and "coin" in printed and "background" in printed
    written = json.loads(out.read_text())
    expected = sm.evaluate(gt, [(f.name[:-5], sm.Predictions.from_response(f)) for f in sorted(responses.iterdir())],
                           backend="pycocotools")  # fmt: skip
    assert {k: written[k] for k in sm.METRICS} == {k: expected[k] for k in sm.METRICS}
    assert written["per_class"] == expected["per_class"] and written["backend"] == "pycocotools"
    matrix = np.array(written["confusion"]["matrix"])
    assert matrix.shape == (len(written["confusion"]["classes"]) + 1,) * 2 and matrix[-1].sum() == 0
    assert np.trace(matrix) == matrix.sum()  # the responses against themselves: all on the diagonal


def test_iou_and_validate(responses: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["iou", str(responses / "a.png.json"), str(responses / "b.png.json")]) == 0
    printed = capsys.readouterr().out
    assert "1.0000" in printed and printed.count("\n") == 2 + 6
    assert main(["validate", str(responses)]) == 1
    printed = capsys.readouterr().out
    # the bow-tie crosses itself; the sample's star touches itself at its one-pixel tips
    assert "c.png.json: predictions[0]: self_intersection (Self-intersection at x=25, y=25)" in printed
    assert "a.png.json: predictions[4]: self_touching (Ring Self-intersection" in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["convert", "missing/", "--to", "coco", "--out", "x.json"], "segmask: error: missing: no such file or folder"),
        (["convert", "{bad}", "--to", "coco-results", "--out", "r.json"], "--to coco-results needs --gt GT.json"),
        (["iou", "{bad}", "{bad}"], "bad.json: predictions[0].confidence is 'high'"),
        (["eval", "--gt", "/dev/null", "--pred", "{bad}"], "not valid JSON"),
        (["eval", "--gt", "missing.json", "--pred", "{bad}"], "missing.json: no such file"),
        (["convert", "{bad}", "--to", "coco", "--out", "."], "is a folder; --to coco writes one file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, argv: list, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.json"
    prediction = {"x": 1, "y": 1, "width": 1, "height": 1, "class": "a", "confidence": "high"}
    bad.write_text(json.dumps({"predictions": [prediction], "image": {"width": 5, "height": 5}}))
    code = main([a.replace("{bad}", str(bad)) for a in argv])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "segmask:" in line]
    assert code == 2 and len(errors) == 1 and message in errors[0]
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("to", ["yolo", "png", "coco-results", "coco"])
def test_one_bad_file_is_named_and_the_others_are_converted(
    responses: Path, tmp_path: Path, capsys: pytest.CaptureFixture, to: str
) -> None:
    (responses / "bad.png.json").write_text('{"predictions": [{"x": 1}], "image": {"width": 5, "height": 5}}')
    (responses / "deep.png.json").write_text("[" * 100_000 + "]" * 100_000)
    gt = tmp_path / "gt.json"
    truth = sm.Predictions.from_response(responses / "a.png.json")
    sm.to_coco([(name, truth) for name in ("a.png", "b.png", "c.png", "bad.png", "deep.png")], gt)
    out = tmp_path / ("out.json" if to.startswith("coco") else "out")
    argv = ["convert", str(responses), "--to", to, "--out", str(out), "--gt", str(gt), "--no-progress"]
    code = main(argv)
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert any("bad.png.json: predictions[0].y is missing" in line for line in err)
    assert any("deep.png.json: not valid JSON" in line for line in err)
    assert all(line.startswith("segmask: failed: ") for line in err)
    if to == "yolo":
        assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "c.txt", "classes.txt"]
    elif to == "png":
        assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]
    elif to == "coco":
        assert [im["file_name"] for im in json.loads(out.read_text())["images"]] == ["a.png", "b.png", "c.png"]
    else:
        assert {r["image_id"] for r in json.loads(out.read_text())} == {1, 2, 3}


@pytest.mark.parametrize("command", ["demo", "fetch", "convert", "eval", "iou", "validate"])
def test_help_everywhere_with_examples(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0 and "examples:" in capsys.readouterr().out


@pytest.fixture
def server() -> Iterator[FakeRoboflowServer]:
    with FakeRoboflowServer(api_keys={KEY}) as s:
        yield s


def test_fetch_writes_responses_and_reports_failures(
    server: FakeRoboflowServer, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROBOFLOW_API_KEY", KEY)
    images = tmp_path / "images"
    images.mkdir()
    (images / "sample.png").write_bytes(sample_image_path().read_bytes())
    junk = images / "junk.png"
    junk.write_bytes(b"not an image")
    out = tmp_path / "responses"
    argv = ["fetch", str(images / "sample.png"), str(junk), "--model", "shapes/1", "--out", str(out),
            "--api-url", server.url, "--retries", "0", "--confidence", "0.05"]  # fmt: skip
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 1 and "1 of 2 responses written" in captured.out
    assert "segmask: failed: " in captured.err and "junk.png" in captured.err and "answered 400" in captured.err
    assert KEY not in captured.out + captured.err
    written = sm.Predictions.from_response(out / "sample.png.json")
    assert len(written) == 5
    assert main(["fetch", str(images / "sample.png"), "--model", "shapes", "--out", str(out)]) == 2
    assert "model must be 'project/version'" in capsys.readouterr().err


def test_dask_path_on_a_local_cluster(responses: Path, tmp_path: Path) -> None:
    import distributed

    import segmask.dask

    out = tmp_path / "dask.json"
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        summary = segmask.dask.convert_to_coco([responses], out, partition_size=1)
        assert len(client.scheduler_info()["workers"]) == 2
    assert summary.images == 3
    local = tmp_path / "local.json"
    main(["convert", str(responses), "--to", "coco", "--out", str(local), "--workers", "1", "--no-progress"])
    assert same_dataset(json.loads(out.read_text()), json.loads(local.read_text()))
    data = json.loads(out.read_text())
    ann = data["annotations"][0]
    rle = pcm.frPyObjects(ann["segmentation"], 360, 480)
    assert int(np.sum(pcm.area(rle))) >= ann["area"] > 0

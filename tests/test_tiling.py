"""Sliced inference: the windows, merging tiles' masks exactly, and the client against the fake server."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import segmask as sm
from segmask.testing import FakeRoboflowServer, region_prediction

KEY = "tile-key"


# --- tiles ---------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 3000), st.integers(1, 700), st.integers(1, 700),
       st.floats(0, 0.95))  # fmt: skip
def test_tiles_cover_the_image_flush_with_its_edges(h: int, w: int, th: int, tw: int, overlap: float) -> None:
    windows = sm.tiles((h, w), tile=(th, tw), overlap=overlap)
    x, y, ww, hh = windows.T
    assert windows.dtype == np.int64 and len(windows)
    assert (x >= 0).all() and (y >= 0).all() and (x + ww <= w).all() and (y + hh <= h).all()
    assert (ww == min(tw, w)).all() and (hh == min(th, h)).all()  # never larger than the image
    assert (x + ww).max() == w and (y + hh).max() == h  # the last column and row are flush
    for starts, size, length in ((np.unique(x), min(tw, w), w), (np.unique(y), min(th, h), h)):
        assert starts[0] == 0
        gaps = np.diff(starts)
        common = max(round(size * overlap), 1) if overlap > 0 else 0
        assert (gaps >= 1).all() and (gaps <= max(size - common, 1)).all()  # no pixel left out
        assert len(starts) * size >= length


def test_tiles_refuse_bad_arguments() -> None:
    with pytest.raises(sm.InputError, match="overlap must be below 1"):
        sm.tiles((100, 100), overlap=1.0)
    with pytest.raises(sm.InputError, match="tile must be an integer"):
        sm.tiles((100, 100), tile=0.5)  # type: ignore[arg-type]
    with pytest.raises(sm.InputError, match="tile must be an integer in"):
        sm.tiles((100, 100), tile=0)
    with pytest.raises(sm.InputError, match="image_size"):
        sm.tiles((0, 100))


# --- merging, with a model that labels pixels ----------------------------------------------------


def components(labels: np.ndarray, classes: dict[int, str]) -> list[tuple[str, np.ndarray]]:
    """Each 8-connected region of each class in a label image: (class, mask)."""
    out = []
    for value, name in classes.items():
        count, regions = cv2.connectedComponents((labels == value).astype(np.uint8), connectivity=8)
        out += [(name, regions == k) for k in range(1, count)]
    return out


def predictions(labels: np.ndarray, classes: dict[int, str]) -> sm.Predictions:
    found = components(labels, classes)
    if not found:
        return sm.Predictions.from_masks(sm.Masks.empty(labels.shape), confidence=[], class_name=[])
    masks = sm.Masks.from_dense(np.stack([m for _, m in found]))
    return sm.Predictions.from_masks(masks, confidence=[0.9] * len(found), class_name=[c for c, _ in found])


def as_set(preds: sm.Predictions) -> list[tuple[str, str]]:
    return sorted(zip(preds.class_name.tolist(), [r["counts"] for r in preds.masks().to_rle()], strict=True))


def sliced(labels: np.ndarray, classes: dict[int, str], windows: np.ndarray, **kw: Any) -> sm.Predictions:
    parts = [predictions(labels[y : y + h, x : x + w], classes) for x, y, w, h in windows.tolist()]
    return sm.merge_tiles(parts, windows, labels.shape, **kw)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(8, 40), st.floats(0.05, 0.5))
def test_merging_random_masks_cut_into_windows_gives_the_whole_image_answer(
    seed: int, tile: int, overlap: float
) -> None:
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(10, 90, 2))
    labels = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, 12))):  # blobs of two classes, touching or not, some larger than a tile
        cy, cx, ry, rx = rng.integers(0, h), rng.integers(0, w), rng.integers(1, h), rng.integers(1, w)
        yy, xx = np.ogrid[:h, :w]
        blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        blob &= rng.random((h, w)) < rng.uniform(0.6, 1.0)  # ragged: holes, spurs, pieces
        labels[blob] = rng.integers(1, 3)
    classes = {1: "a", 2: "b"}
    windows = sm.tiles((h, w), tile=tile, overlap=overlap)
    # Joined on any shared pixel: exact for a model that labels every pixel the same in every tile.
    merged = sliced(labels, classes, windows, threshold=1e-9)
    assert as_set(merged) == as_set(predictions(labels, classes))


def scene(h: int, w: int, tile: int) -> np.ndarray:
    """Small blobs; objects cut by the tiles' borders; pairs 2 and 3 px apart across borders; bars and a U."""
    img = np.zeros((h, w, 3), np.uint8)
    red, green = (0, 0, 255), (0, 255, 0)
    rng = np.random.default_rng(7)
    for _ in range(40):
        cx, cy = int(rng.integers(10, w - 10)), int(rng.integers(10, h - 10))
        cv2.circle(img, (cx, cy), int(rng.integers(2, 6)), red if rng.random() < 0.5 else green, -1)
    stride = tile - round(tile * 0.2)
    for k, gap in ((1, 2), (2, 3)):  # neighbours straddling a border, 2 and 3 px apart
        x = k * stride + tile // 2
        img[40 * k : 40 * k + 20, x - 10 : x] = red
        img[40 * k : 40 * k + 20, x + gap : x + gap + 10] = red
    img[h - 30 : h - 24, 5 : w - 5] = green  # a bar longer than any tile
    img[5 : h - 5, w // 2 - 40 : w // 2 - 36] = red  # and a vertical one
    u = np.zeros((h, w), bool)  # a U whose arms a tile sees apart
    u[200:330, 330:336] = u[200:330, 380:386] = u[324:330, 330:386] = True
    img[u] = green
    cv2.ellipse(img, (w - 120, 150), (90, 60), 30, 0, 360, red, -1)  # a blob larger than a tile
    return img


def colour_model(image: np.ndarray) -> list[dict[str, Any]]:
    """Each 8-connected region of red or of green pixels, as the server makes a prediction of it."""
    out = []
    for channel, name in ((2, "red"), (1, "green")):
        count, regions = cv2.connectedComponents((image[..., channel] >= 128).astype(np.uint8), connectivity=8)
        out += [region_prediction(regions == k, name, 0.9) for k in range(1, count)]
    return out


@pytest.mark.parametrize("mask_format", ["rle", "polygon"])
def test_infer_sliced_equals_the_model_on_the_whole_image(mask_format: str) -> None:
    h, w, tile = 700, 900, 256  # not multiples of the stride
    img = scene(h, w, tile)
    png = cv2.imencode(".png", img)[1].tobytes()
    with FakeRoboflowServer(api_keys={KEY}, models={"colours/1": colour_model}) as server:
        client = sm.RoboflowClient(api_key=KEY, api_url=server.url, retries=0)
        # overlap=1: the server's NMS keeps every region, whole or cut.
        whole = client.infer(png, "colours/1", overlap=1, response_mask_format=mask_format, max_detections=1000)
        calls = server.count
        merged = client.infer_sliced(
            png, "colours/1", tile=tile, workers=4, overlap=1, response_mask_format=mask_format
        )
        tiles_sent = server.count - calls
    assert tiles_sent == len(sm.tiles((h, w), tile=tile)) == 5 * 4
    assert merged.image_size == (h, w) and len(merged) == len(whole) > 40
    assert as_set(merged) == as_set(whole)  # count, classes and every mask's pixels
    assert sorted(merged.class_name.tolist()) == sorted(whole.class_name.tolist())
    again = sm.Predictions.from_response(merged.to_dict())  # merged objects are RLE in the API's JSON
    assert as_set(again) == as_set(whole)


def test_neighbours_across_a_border_stay_two_and_a_cut_object_never_wins() -> None:
    labels = np.zeros((20, 40), np.uint8)
    labels[5:15, 10:19] = 1
    labels[5:15, 21:30] = 1  # 2 px apart, across the border of the windows below
    windows = np.array([[0, 0, 22, 20], [18, 0, 22, 20]])
    merged = sliced(labels, {1: "a"}, windows)
    assert len(merged) == 2 and sorted(merged.masks().area.tolist()) == [90, 90]

    whole, cut = np.zeros((20, 40), bool), np.zeros((20, 22), bool)
    whole[5:15, 19:30] = True  # seen whole by the right window ...
    cut[5:15, 19:22] = True  # ... and cut by the left window's inner edge
    left = sm.Predictions.from_masks(sm.Masks.from_dense(cut[None]), confidence=[0.99], class_name=["a"],
                                     detection_id=["cut"])  # fmt: skip
    right = sm.Predictions.from_masks(
        sm.Masks.from_dense(whole[None, :, 18:]), confidence=[0.6], class_name=["a"], detection_id=["whole"]
    )
    merged = sm.merge_tiles([left, right], windows, (20, 40))
    assert len(merged) == 1 and merged.detection_id.tolist() == ["whole"] and merged.confidence.tolist() == [0.6]
    np.testing.assert_array_equal(merged.masks().to_dense()[0], whole)
    assert merged.xywh.tolist() == [[19.0, 5.0, 11.0, 10.0]]


def test_merge_tiles_refuses_what_does_not_fit() -> None:
    p = sm.Predictions.from_masks(sm.Masks.empty((10, 10)), confidence=[], class_name=[])
    with pytest.raises(sm.InputError, match="one per window"):
        sm.merge_tiles([p], [[0, 0, 10, 10], [5, 0, 10, 10]], (10, 15))
    with pytest.raises(sm.InputError, match=r"windows\[0\] = \[5, 0, 10, 10\] is not inside"):
        sm.merge_tiles([p], [[5, 0, 10, 10]], (10, 10))
    with pytest.raises(sm.InputError, match="window 0 is"):
        sm.merge_tiles([p], [[0, 0, 8, 8]], (10, 10))
    with pytest.raises(sm.InputError, match="threshold must be above 0"):
        sm.merge_tiles([p], [[0, 0, 10, 10]], (10, 10), threshold=0)


def test_a_failed_tile_is_named_or_kept() -> None:
    img = scene(300, 400, 128)
    png = cv2.imencode(".png", img)[1].tobytes()
    with FakeRoboflowServer(api_keys={KEY}, models={"colours/1": colour_model}) as server:
        client = sm.RoboflowClient(api_key=KEY, api_url=server.url, retries=0)
        server.push(500)
        with pytest.raises(
            sm.ServerError, match=r"tile \(x, y, w, h\) = \(\d+, \d+, 128, 128\) \(1 of 12 tiles failed\)"
        ):
            client.infer_sliced(png, "colours/1", tile=128, workers=1)
        server.push(500)
        merged, failed = client.infer_sliced(png, "colours/1", tile=128, workers=1, errors="keep")
    assert len(failed) == 1 and isinstance(next(iter(failed.values())), sm.ServerError)
    assert [len(k) for k in failed] == [4] and len(merged) > 0
    with pytest.raises(sm.InputError, match="not a URL"):
        client.infer_sliced("https://example.com/a.png", "colours/1")


def test_cli_fetch_with_tiles(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from segmask.cli import main

    img = scene(300, 400, 128)
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), img)
    monkeypatch.setenv("ROBOFLOW_API_KEY", KEY)
    with FakeRoboflowServer(api_keys={KEY}, models={"colours/1": colour_model}) as server:
        code = main(["fetch", str(path), "--model", "colours/1", "--out", str(tmp_path / "out"), "--api-url",
                     server.url, "--tile", "128", "--no-progress", "--confidence", "0.5"])  # fmt: skip
        assert code == 0 and server.count == 12
        whole = sm.RoboflowClient(api_key=KEY, api_url=server.url).infer(path, "colours/1")
    written = sm.Predictions.from_response(tmp_path / "out" / "big.png.json")
    assert written.image_size == (300, 400) and len(written) == len(whole)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 2000), st.integers(1, 2000), st.integers(40, 500), st.integers(40, 500), st.floats(0, 0.9),
       st.booleans())  # fmt: skip
def test_neighbouring_windows_are_found_without_a_k_by_k_matrix(
    h: int, w: int, th: int, tw: int, overlap: float, shuffle: bool
) -> None:
    from segmask.tiling import _neighbours

    windows = sm.tiles((h, w), tile=(th, tw), overlap=overlap)
    assume(len(windows) <= 2000)  # the brute-force reference below is K x K
    if shuffle:
        windows = windows[np.random.default_rng(h * w).permutation(len(windows))]
    x0, y0 = windows[:, 0], windows[:, 1]
    x1, y1 = x0 + windows[:, 2], y0 + windows[:, 3]
    meet = (np.minimum(x1[:, None], x1[None]) > np.maximum(x0[:, None], x0[None])) & (
        np.minimum(y1[:, None], y1[None]) > np.maximum(y0[:, None], y0[None])
    )
    a, b = np.nonzero(np.triu(meet, 1))
    assert _neighbours(windows) == list(zip(a.tolist(), b.tolist(), strict=True))

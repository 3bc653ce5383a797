"""Image sizes: checked once where they enter, exact below the limit (h * w < 2**32), refused above it.

Rectangles far down large images are checked against their own int64
arithmetic: the contour rule fills ``(x1 - x0 + 1) * (y1 - y0 + 1)`` pixels
of integer corners, the coco rule ``(x1 - x0) * (y1 - y0)``.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycocotools import mask as pcm

import segmask as sm
from segmask.rle import decode_strings


@st.composite
def large_sizes(draw: st.DrawFn) -> tuple[int, int]:
    """(h, w) with h * w near 2**31 or just under 2**32."""
    target = draw(st.sampled_from([2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1]))
    h = draw(st.integers(2**15, 65535))
    w = min(target // h, 2**32 // h - (1 if (2**32 // h) * h >= 2**32 else 0))
    return h, max(w, 1)


@given(large_sizes(), st.data())
def test_rectangles_far_down_large_images_are_exact(size: tuple[int, int], data: st.DataObject) -> None:
    h, w = size
    assert h * w < 2**32
    x0 = data.draw(st.integers(0, w - 1))
    y0 = data.draw(st.integers(0, h - 1))
    x1 = data.draw(st.integers(x0, min(w - 1, x0 + 50)))
    y1 = data.draw(st.integers(y0, min(h - 1, y0 + 50)))
    square = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    contour = sm.rasterize([square], (h, w), rule="contour")
    coco = sm.rasterize([square], (h, w), rule="coco")
    assert contour.area.tolist() == [(x1 - x0 + 1) * (y1 - y0 + 1)]
    assert contour.boxes.tolist() == [[x0, y0, x1 - x0 + 1, y1 - y0 + 1]]
    assert coco.area.tolist() == [(x1 - x0) * (y1 - y0)]
    if x1 > x0 and y1 > y0:
        assert coco.boxes.tolist() == [[x0, y0, x1 - x0, y1 - y0]]
    # The strings hold positions past 2**31: decoded again, the runs and the area are the same.
    for masks in (contour, coco):
        [rle] = masks.to_rle()
        counts, _, area = decode_strings([rle["counts"]], (h, w))
        assert counts.tolist() == masks.runs.counts.tolist() and area.tolist() == masks.area.tolist()
        assert int(counts.astype(np.int64).sum()) == h * w
    # pycocotools reads them: its uint32 area and box agree
    ref = [{"size": [h, w], "counts": contour.to_rle()[0]["counts"].encode()}]
    assert pcm.area(ref).tolist() == contour.area.tolist()
    assert pcm.toBbox(ref).tolist() == contour.boxes.astype(float).tolist()


@pytest.mark.parametrize("rule", sm.RULES)
def test_a_full_image_polygon_on_65535_squared(rule: str) -> None:
    """h * w = 4294836225 pixels, past 2**31 and under 2**32: area and box are exact."""
    n = 65535
    full = [[-1, -1], [n + 1, -1], [n + 1, n + 1], [-1, n + 1]]
    masks = sm.rasterize([full], (n, n), rule=rule)
    assert masks.area.tolist() == [n * n] and masks.boxes.tolist() == [[0, 0, n, n]]
    again = sm.Masks.from_rle(masks.to_rle())
    assert again.area.tolist() == [n * n]


@pytest.mark.parametrize(
    "size", [(65536, 65536), (2**32, 1), (1, 2**32), (10**9, 10**9), (2**40, 2**40), (0, 5), (-1, 5), (5.0, 5)]
)
def test_sizes_past_the_limit_or_not_sizes_are_refused(size: tuple) -> None:
    with pytest.raises(sm.InputError, match="image_size"):
        sm.rasterize([[[0, 0], [10, 0], [10, 10]]], size)
    with pytest.raises(sm.InputError):
        sm.Masks.empty(size)


def test_numpy_integers_are_sizes() -> None:
    masks = sm.rasterize([[[0, 0], [3, 0], [3, 3]]], (np.int64(5), np.uint16(6)))
    assert masks.image_size == (5, 6) and type(masks.image_size[0]) is int


@pytest.mark.parametrize("claim", [{"width": 10**9, "height": 10**9}, {"width": 70000, "height": 70000}])
def test_a_response_claiming_a_huge_image_is_refused_where_it_enters(claim: dict) -> None:
    with pytest.raises(sm.ResponseFormatError, match=r"image \(.*\) has .* pixels; segmask handles images below"):
        sm.Predictions.from_response({"predictions": [], "image": claim})


def test_dense_outputs_over_the_limit_are_refused_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    masks = sm.rasterize([[[0, 0], [9, 0], [9, 9]]] * 5, (30000, 30000))
    tracemalloc.start()
    with pytest.raises(sm.InputError, match=r"to_dense\(\) of 5 masks of 30000x30000 would take 4500000000 bytes"):
        masks.to_dense()
    with pytest.raises(sm.InputError, match="an IoU matrix of 70000 x 70000"):
        sm.iou(sm.Masks.empty((5, 5), n=70000), sm.Masks.empty((5, 5), n=70000))
    with pytest.raises(sm.InputError, match="a box IoU matrix of 30000 x 30000"):
        sm.box_iou(np.zeros((30000, 4)), np.zeros((30000, 4)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50_000_000
    monkeypatch.setattr(sm.limits, "MAX_DENSE_BYTES", 1000)
    with pytest.raises(sm.InputError, match="an instance-id image of 100x100"):
        sm.Masks.empty((100, 100), n=1).to_labels()


def test_a_png_claiming_a_huge_image_is_refused_from_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def png(width: int, height: int) -> bytes:
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        chunk = b"IHDR" + ihdr
        return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))

    (tmp_path / "huge.png").write_bytes(png(100_000, 100_000))
    with pytest.raises(sm.InputError, match="below 2\\*\\*32 pixels"):
        sm.from_png(tmp_path / "huge.png")
    (tmp_path / "big.png").write_bytes(png(60_000, 60_000))
    monkeypatch.setattr(sm.limits, "MAX_DENSE_BYTES", 10**8)
    with pytest.raises(sm.InputError, match="a 60000x60000 label image would take 3600000000 bytes"):
        sm.from_png(tmp_path / "big.png")
    (tmp_path / "not.png").write_bytes(b"GIF89a")
    with pytest.raises(sm.ResponseFormatError, match="is not a PNG file"):
        sm.from_png(tmp_path / "not.png")

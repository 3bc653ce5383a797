"""COCO RLE: strings, encode and decode, checked against pycocotools itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycocotools import mask as pcm

import segmask as sm
from segmask._kernel.strings import encode_counts as encode_strings
from segmask.rle import decode_strings
from tests.strategies import dense_masks


def pcc_encode(dense: np.ndarray) -> list[dict]:
    """pycocotools' encode of an (N, H, W) stack (it wants (H, W, N) Fortran uint8)."""
    return pcm.encode(np.asfortranarray(dense.transpose(1, 2, 0).astype(np.uint8)))


@given(dense_masks())
def test_encode_is_byte_identical_to_pycocotools(dense: np.ndarray) -> None:
    ours = sm.encode(dense) if len(dense) else []
    ref = pcc_encode(dense) if len(dense) else []
    assert [r["counts"] for r in ours] == [r["counts"].decode() for r in ref]
    assert all(r["size"] == list(dense.shape[1:]) for r in ours)


@given(dense_masks())
def test_decode_inverts_encode_and_reads_pycocotools_output(dense: np.ndarray) -> None:
    if not len(dense):
        return
    np.testing.assert_array_equal(sm.decode(sm.encode(dense)), dense)
    np.testing.assert_array_equal(sm.decode(pcc_encode(dense)), dense)  # bytes counts
    # pycocotools reads ours once the str is bytes again
    ref = pcm.decode([{"size": r["size"], "counts": r["counts"].encode()} for r in sm.encode(dense)])
    np.testing.assert_array_equal(ref.transpose(2, 0, 1).astype(bool), dense)


@given(dense_masks(max_n=3))
def test_uncompressed_counts_are_accepted(dense: np.ndarray) -> None:
    if not len(dense):
        return
    flat = dense.transpose(0, 2, 1).reshape(len(dense), -1)  # column-major pixels
    rles = []
    for f in flat:
        change = np.flatnonzero(np.diff(np.concatenate([[0], f.astype(np.int8), [2]])))
        runs = np.diff(np.concatenate([[0], change]))
        rles.append({"size": list(dense.shape[1:]), "counts": runs.tolist()})
    np.testing.assert_array_equal(sm.decode(rles), dense)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize(
    "dtype", [bool, np.uint8, np.int8, np.int16, np.uint16, np.int32, np.int64, np.float32, np.float64]
)
def test_encode_takes_any_dtype_and_order(order: str, dtype: type) -> None:
    rng = np.random.default_rng(0)
    dense = rng.random((3, 17, 23)) < 0.4
    arr = np.array(dense.astype(dtype), order=order)
    assert sm.encode(arr) == sm.encode(dense)
    assert sm.encode(arr[1]) == [sm.encode(dense)[1]]  # (H, W) gives a list of one
    np.testing.assert_array_equal(sm.decode(sm.encode(arr)), dense)


def test_rle_dicts_serialize_with_json() -> None:
    rles = sm.encode(np.eye(5, dtype=bool))
    assert json.loads(json.dumps(rles)) == rles
    assert isinstance(rles[0]["counts"], str)


def rle_to_string(counts: list[int]) -> str:
    """pycocotools' rleToString, transcribed line by line from maskApi.c."""
    out = []
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = x != -1 if ch & 0x10 else x != 0
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)


# pycocotools' rleToString allocates 6 characters per count and then writes
# its NUL terminator too: when every delta needs 6 characters (2**24 or more)
# it writes past its buffer, and from 2**29 a delta needs 7. Either can abort
# the process. So pycocotools is the reference below 2**24 and its
# transcription above, up to the uint32 limit.
@given(st.lists(st.integers(0, 2**24 - 1), min_size=1, max_size=40))
def test_counts_string_codec_matches_pycocotools(runs: list[int]) -> None:
    h = sum(runs)
    if h == 0:
        return
    ref = pcm.frPyObjects({"size": [h, 1], "counts": runs}, h, 1)["counts"].decode()
    assert encode_strings(np.array(runs, dtype=np.uint32), np.array([0, len(runs)])) == [ref]
    back, offsets, area = decode_strings([ref.encode()], (h, 1))
    assert back.tolist() == runs and offsets.tolist() == [0, len(runs)] and area.tolist() == [sum(runs[1::2])]


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=40))
def test_counts_string_codec_on_full_uint32_range(runs: list[int]) -> None:
    ref = rle_to_string(runs)
    assert encode_strings(np.array(runs, dtype=np.uint32), np.array([0, len(runs)])) == [ref]
    h = sum(runs)
    if 0 < h < 2**32:  # an image of h x 1 pixels exists
        back, _, _ = decode_strings([ref.encode()], (h, 1))
        assert back.tolist() == runs


def test_counts_strings_for_every_short_value_equal_pycocotools() -> None:
    # Every value of three groups or fewer (the encoder's table, -2**14 <= x < 2**14) and those just
    # past it, as a delta (the fourth run, less the second) and as a leading run, against pycocotools.
    deltas = np.arange(-(2**14) - 40, 2**14 + 40)
    firsts = np.arange(0, 2**14 + 40)
    runs = np.concatenate(
        [
            np.stack([np.full_like(deltas, 20000)] * 3 + [20000 + deltas], axis=1).ravel(),
            np.stack([firsts, firsts + 1, firsts + 2, firsts + 3], axis=1).ravel(),
        ]
    ).astype(np.uint32)
    n = len(deltas) + len(firsts)
    offsets = np.arange(0, 4 * n + 1, 4)
    ours = encode_strings(runs, offsets)
    rows = runs.reshape(n, 4).tolist()
    refs = [pcm.frPyObjects({"size": [sum(r), 1], "counts": r}, sum(r), 1)["counts"].decode() for r in rows]
    assert ours == refs
    for i in range(0, n, 997):  # and back, on a sample (the decoder has its own tests)
        back, _, _ = decode_strings([refs[i].encode()], (sum(rows[i]), 1))
        assert back.tolist() == rows[i]


@given(
    st.lists(st.one_of(st.integers(0, 15), st.integers(0, 600), st.integers(0, 2**21)), min_size=1, max_size=150),
    st.data(),
)
def test_long_strings_of_mixed_values_equal_pycocotools(runs: list[int], data: st.DataObject) -> None:
    # Values of one to five characters in one string: the decoder reads eight characters at a time
    # where values are short, and one at a time where a long one or the string's tail stops it.
    h = sum(runs)
    if h == 0:
        return
    ref = pcm.frPyObjects({"size": [h, 1], "counts": runs}, h, 1)["counts"]
    back, offsets, area = decode_strings([ref, ref.decode(), ref], (h, 1))
    assert offsets.tolist() == [0, len(runs), 2 * len(runs), 3 * len(runs)]
    assert back.tolist() == runs * 3 and area.tolist() == [sum(runs[1::2])] * 3
    assert encode_strings(np.array(runs, np.uint32), np.array([0, len(runs)])) == [ref.decode()]
    # one character outside the code, anywhere, is named where it is
    pos = data.draw(st.integers(0, len(ref) - 1))
    bad = ref[:pos] + b"~" + ref[pos + 1 :]
    with pytest.raises(sm.RLEError, match=f"has .~. at position {pos}"):
        decode_strings([ref, bad], (h, 1))


def test_a_string_longer_than_the_decoders_span_decodes_whole() -> None:
    # The decoder reads a string 65,536 characters at a time (its scratch is bounded whatever the
    # string): a value open at a span's end, and runs either side of it, must come out whole.
    rng = np.random.default_rng(11)
    dense = rng.random((2, 500, 400)) < np.array([0.5, 0.03])[:, None, None]
    ref = pcc_encode(dense)
    assert all(len(r["counts"]) > 2**16 for r in ref[:1])
    np.testing.assert_array_equal(sm.Masks.from_rle(ref).to_dense(), dense)
    bad = ref[0]["counts"][:-3] + b"~" + ref[0]["counts"][-2:]
    with pytest.raises(sm.RLEError, match=f"has '~' at position {len(bad) - 3}"):
        sm.Masks.from_rle([{"size": ref[0]["size"], "counts": bad}])


def test_many_strings_decode_at_once() -> None:
    rng = np.random.default_rng(3)
    dense = rng.random((40, 30, 20)) < 0.5
    dense[5] = False
    dense[6] = True
    np.testing.assert_array_equal(sm.decode(sm.encode(dense)), dense)


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ({"size": [4, 4], "counts": "4"}, "counts sum to 4 but size 4x4 needs 16"),
        ({"size": [4, 4], "counts": [3, 20]}, "counts sum to 23"),
        ({"size": [4, 4], "counts": "0~"}, "has '~' at position 1"),
        ({"size": [4, 4], "counts": "0P"}, "cut off inside a value"),
        ({"size": [4, 4], "counts": "0H"}, "not a valid run length"),  # decodes to a negative run
        ({"size": [4, 4], "counts": [16, -1, 1]}, "counts[1] = -1"),
        ({"size": [4, 4], "counts": [1.5, 14.5]}, "flat list of ints"),
        ({"size": [4], "counts": "<"}, ".size must be (height, width), got [4]"),
        ({"size": [0, 4], "counts": ""}, ".size must be two positive integers (height, width)"),
        ({"size": [70000, 70000], "counts": ""}, "below 2**32 pixels"),
        ({"size": [4, 4]}, "must be a dict with 'size' and 'counts'"),
        ({"size": [4, 4], "counts": None}, "counts must be a str, bytes or a list"),
        ({"size": [4, 4], "counts": "é"}, "not ASCII"),
        ({"size": [4, 4], "counts": "o" * 13 + "0"}, "too large"),
    ],
)
def test_malformed_rles_are_rejected_clearly(rle: dict, message: str) -> None:
    with pytest.raises(sm.RLEError, match=r"rles\[1\]") as info:
        sm.decode([sm.encode(np.ones((4, 4), bool))[0], rle])
    assert message in str(info.value)


def test_mixed_sizes_are_rejected() -> None:
    a = sm.encode(np.ones((4, 4), bool))[0]
    b = sm.encode(np.ones((4, 5), bool))[0]
    with pytest.raises(sm.RLEError, match=r"rles\[1\] has size \[4, 5\] but rles\[0\] has \[4, 4\]"):
        sm.decode([a, b])


def test_a_single_dict_is_not_a_list() -> None:
    with pytest.raises(sm.RLEError, match="pass \\[rle\\]"):
        sm.decode({"size": [1, 1], "counts": "01"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((2, 2), 0.5), "value 0.5 at row 0, column 0"),
        (np.array([[0, 2]]), "value 2 at row 0, column 1"),
        (np.array([[0, np.nan]]), "value nan at row 0, column 1"),
        (np.zeros((2, 2, 2, 2)), "shape (H, W) or (N, H, W)"),
        (np.zeros((1, 0, 3)), "shape (H, W) or (N, H, W)"),
        (np.array([["a"]]), "dtype <U1"),
    ],
)
def test_bad_dense_masks_are_rejected_clearly(array: np.ndarray, message: str) -> None:
    with pytest.raises(sm.MaskError) as info:
        sm.encode(array)
    assert message in str(info.value)

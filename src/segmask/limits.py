"""The limits segmask checks where data enters, before anything is allocated.

A response, a file or an argument may claim any size; these bound what
segmask accepts and what it allocates for it. Each is read when a function
runs, so a program that really needs more may raise one::

    import segmask.limits
    segmask.limits.MAX_DENSE_BYTES = 16 * 2**30

Examples
--------
>>> import segmask as sm
>>> try:
...     sm.rasterize([[[0, 0], [1, 0], [1, 1]]], (100_000, 100_000))
... except sm.InputError as exc:
...     print(str(exc)[:59])
image_size (100000, 100000) has 10000000000 pixels; segmask
"""

from __future__ import annotations

__all__ = ["MAX_COORD", "MAX_DATASET_BYTES", "MAX_DENSE_BYTES", "MAX_IMAGE_PIXELS", "MAX_JSON_DEPTH"]

#: Most pixels an image may have: ``height * width < 2**32``, as COCO run lengths are
#: 32-bit in pycocotools. Every size (an argument, a response's ``image``, a COCO,
#: YOLO or PNG file) is checked against it where it enters.
MAX_IMAGE_PIXELS = 2**32 - 1

#: Largest |coordinate| of a polygon vertex, in pixels: pycocotools' C overflows
#: its 32-bit ints past about 4.3e8 px, so no reference exists beyond this.
MAX_COORD = float(2**28)

#: Largest COCO file (ground truth, results) read, in bytes (2 GiB: LVIS's training
#: annotations are 1.1 GB). A response file is capped lower, at 64 MiB, as a reply is.
MAX_DATASET_BYTES = 2**31

#: Largest dense array made on request, in bytes (4 GiB): ``Masks.to_dense``, the
#: instance-id images of ``to_png``/``from_png`` and ``Masks.to_labels``, and the
#: IoU matrices of ``iou`` and ``box_iou``. Past it an ``InputError`` comes before
#: anything is allocated.
MAX_DENSE_BYTES = 2**32

#: Deepest nesting of lists and objects kept from a response, counted from its top
#: level: its ``meta``, each prediction's other fields and RLE dict. Python copies
#: recurse, and orjson writes at most 254 levels: past this a ``ResponseFormatError``
#: names the field, so whatever is read can be copied and written back.
MAX_JSON_DEPTH = 128

"""segmask's compiled kernel: one module per concept, each mirroring the Python module that calls it.

==========  =====================================================  ==========================
module      what it does                                           called by
==========  =====================================================  ==========================
strings     COCO compressed counts strings <-> runs; RLE dicts     rle, masks
runs        areas, boxes, set operations, moves, dense, crops      masks
overlap     exact mask IoU, greedy NMS, box IoU and box NMS        iou, nms
fill        both rasterization rules; polygons read from lists     raster, _polygons, tracing
wire        the API's JSON: predictions into columns, raw points   response
buffers     the pool of output buffers, the fill scratch, arrays   every module; _ragged
==========  =====================================================  ==========================

Everything works on the batch layout of :mod:`segmask.rle` (runs of N masks
in one ``uint32`` array with ``(N + 1,)`` int64 offsets) and trusts its
inputs (the Python layer above checks them once), except where it reads
what comes from outside (COCO strings, parsed JSON, polygons in lists):
that reports the first problem for the caller to name. Shared C lives in
``buffers.pxd`` (inline helpers, compiled into each module that uses them)
and in ``.h`` files (bit tricks, SSE2, pages, CPython checks).
"""

from . import buffers, fill, overlap, runs, strings, wire

__all__ = ["buffers", "fill", "overlap", "runs", "strings", "wire"]

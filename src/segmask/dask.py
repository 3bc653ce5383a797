"""Beyond one machine: response files as a ``dask.bag``, converted with the same functions.

Needs the extra: ``pip install segmask[dask]``. Each file goes through
:func:`segmask.pipeline.coco_record` on a Dask worker; the records come back
to the client, in the files' order, and are written as one COCO file with
:func:`segmask.pipeline.write_coco` (streamed, atomic).

Examples
--------
::

    from distributed import Client
    import segmask.dask

    with Client("tcp://scheduler:8786"):               # or LocalCluster()
        segmask.dask.convert_to_coco(paths, "dataset.json")
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from .errors import InputError
from .pipeline import coco_record, response_files, write_coco
from .raster import Rule

__all__ = ["coco_bag", "convert_to_coco"]


def _bag_module() -> Any:
    try:
        import dask.bag as db
    except ImportError:
        raise InputError("segmask.dask needs Dask: pip install 'segmask[dask]'") from None
    return db


def coco_bag(
    paths: Iterable[str | os.PathLike[str]],
    rule: Rule | None = None,
    segmentation: str = "polygon",
    partition_size: int = 64,
) -> Any:
    """A ``dask.bag`` of :class:`~segmask.pipeline.CocoRecord`, one per response file, in order."""
    db = _bag_module()
    files = [str(p) for p in response_files(paths)]
    return db.from_sequence(files, partition_size=partition_size).map(coco_record, rule, segmentation)


def convert_to_coco(
    paths: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    rule: Rule | None = None,
    segmentation: str = "polygon",
    partition_size: int = 64,
) -> dict[str, Any]:
    """Convert response files (or folders of them) to one COCO file on the current Dask scheduler.

    Uses whatever scheduler is active (a ``distributed.Client`` if one is
    running). Returns the summary of :func:`segmask.pipeline.write_coco`.
    """
    bag = coco_bag(paths, rule, segmentation, partition_size)
    return write_coco(bag.compute(), out)

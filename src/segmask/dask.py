"""Beyond one machine: response files as a ``dask.bag``, converted with the same functions.

Needs the extra: ``pip install segmask[dask]``. Each file goes through
:func:`segmask.pipeline.coco_file` on a Dask worker; the records come back
to the client, in the files' order, and are written as one COCO file by
:class:`segmask.coco.CocoWriter` (streamed, atomic), as ``segmask convert``
writes it.

Examples
--------
::

    from distributed import Client
    import segmask.dask

    with Client("tcp://scheduler:8786"):               # or LocalCluster()
        segmask.dask.convert_to_coco(["responses/"], "dataset.json")
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ._optional import require
from .coco import CocoWriter
from .datasets import WriteReport
from .errors import InputError
from .pipeline import Failure, coco_file, response_files
from .rules import Rule

__all__ = ["coco_bag", "convert_to_coco"]


def _bag_module() -> Any:
    return require("dask.bag", "segmask.dask needs Dask: pip install 'segmask[dask]'")


def coco_bag(
    paths: Iterable[str | os.PathLike[str]],
    *,
    rule: Rule | None = None,
    segmentation: str = "polygon",
    partition_size: int = 64,
) -> Any:
    """A ``dask.bag`` of :class:`~segmask.coco.CocoRecord` (or :class:`~segmask.pipeline.Failure`), one per file."""
    db = _bag_module()
    files = response_files(paths)
    return db.from_sequence(files, partition_size=partition_size).map(coco_file, rule, segmentation)


def convert_to_coco(
    paths: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    rule: Rule | None = None,
    segmentation: str = "polygon",
    partition_size: int = 64,
) -> WriteReport:
    """Convert response files (or folders of them) to one COCO file on the current Dask scheduler.

    Uses whatever scheduler is active (a ``distributed.Client`` if one is
    running). A file that cannot be used raises an :class:`InputError` naming
    it, after the others were converted, and nothing is written.
    """
    bag = coco_bag(paths, rule=rule, segmentation=segmentation, partition_size=partition_size)
    records = bag.compute()
    failures = [r for r in records if isinstance(r, Failure)]
    if failures:
        raise InputError(f"{len(failures)} files could not be converted; the first: {failures[0].message}")
    with CocoWriter(out) as writer:
        for record in records:
            writer.add(record)
    assert writer.report is not None
    return writer.report

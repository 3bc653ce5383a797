"""The two rasterization rules, named: which pixels a polygon covers.

``"contour"``: the polygon runs through the centres of the mask's boundary
pixels, as ``cv2.findContours`` (and Roboflow's server) makes it; filled as
``cv2.fillPoly`` fills it, boundary included. ``"coco"``: pixel ``j`` spans
``[j, j + 1)`` and a pixel is in when its centre is inside, pycocotools'
``frPyObjects`` rule. See :func:`segmask.rasterize`.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["RULES", "Rule"]

#: A rasterization rule.
Rule = Literal["contour", "coco"]

#: The rules, in the order they are listed in messages.
RULES: tuple[Rule, ...] = ("contour", "coco")

"""Which rendered people a dataset annotates, as real datasets do at the image border.

Annotators label a person they can recognise: enough of the body inside the frame and a box
wide enough to look at. A person mostly outside the frame is at most an unlabelled person box;
a sliver at the border is not annotated at all (PRW, CUHK-SYSU and CityPersons leave such
people out or mark them ignore). Without this rule the world labelled identities in boxes 1 to 5
pixels wide at the border.
"""

from __future__ import annotations

from typing import Literal

Box = tuple[float, float, float, float]
Verdict = Literal["labelled", "unlabelled", "left out"]

MIN_LABELLED_IN_FRAME = 0.5  # fraction of the full-body box inside the picture
MIN_LABELLED_WIDTH = 10.0  # pixels of box width inside the picture
MIN_ANNOTATED_IN_FRAME = 0.25
MIN_ANNOTATED_WIDTH = 4.0


def in_frame(box: Box, width: int, height: int) -> tuple[float, float]:
    """(fraction of the box area inside the picture, width of the box inside the picture)."""
    x1, y1, x2, y2 = box
    inner_w = max(0.0, min(x2, width) - max(x1, 0.0))
    inner_h = max(0.0, min(y2, height) - max(y1, 0.0))
    area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    return (inner_w * inner_h / area if area > 0 else 0.0), inner_w


def border_verdict(box: Box, width: int, height: int) -> Verdict:
    fraction, inner_width = in_frame(box, width, height)
    if fraction >= MIN_LABELLED_IN_FRAME and inner_width >= MIN_LABELLED_WIDTH:
        return "labelled"
    if fraction >= MIN_ANNOTATED_IN_FRAME and inner_width >= MIN_ANNOTATED_WIDTH:
        return "unlabelled"
    return "left out"

"""What the synthetic person world hands to the dataset writers.

Coordinates are pixels, x1, y1, x2, y2. A full-body `box` may extend past the
image border when the person is truncated; writers clip it as the real
datasets do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from personsearch.data.records import UNLABELLED

Box = tuple[float, float, float, float]

VIEWPOINTS = ("front", "back", "left", "right")


@dataclass(frozen=True)
class SynthPerson:
    pid: int  # world identity index; UNLABELLED for background people nobody annotated
    box: Box  # full body, possibly extending past the image border
    visible_box: Box  # the part not hidden by occluders, clipped to the image
    head_box: Box
    viewpoint: str  # one of VIEWPOINTS
    occlusion: float  # fraction of the body area hidden by objects or other people, 0..1
    truncated: bool  # cut by the image border

    @property
    def labelled(self) -> bool:
        return self.pid != UNLABELLED


@dataclass
class SynthScene:
    index: int
    camera: int  # 0-based camera index
    sequence: int  # 0-based recording sequence of that camera
    frame: int  # frame number within the sequence
    split: str  # "train" | "test"
    image: Image.Image  # RGB, after the camera's photometric model (JPEG quality applies on write)
    people: list[SynthPerson]
    jpeg_quality: int = 90


@dataclass
class SynthCrop:
    """One person image of the kind text and re-ID datasets hold (a tight, padded crop)."""

    index: int
    pid: int
    camera: int
    split: str
    image: Image.Image
    captions: tuple[str, str]  # two different descriptions of what is visible
    viewpoint: str
    attributes: dict[str, str] = field(default_factory=dict)  # visible attribute name -> value
    jpeg_quality: int = 90


@dataclass(frozen=True)
class ProximityEdit:
    """A person image re-rendered with one colour attribute changed, and its edited captions."""

    image: Image.Image
    captions: tuple[str, str]
    attribute: str
    old_value: str
    new_value: str

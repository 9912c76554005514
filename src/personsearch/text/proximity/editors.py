"""Proximity editors behind one interface: `editor.edit(record, rng) -> ProximityPair | None`.

- `recolor`: real images; finds the first colour + garment phrase of a caption, picks another
  colour, recolours the garment's body region and rewrites the captions.
- `synthetic`: images written from a synthetic world (the dataset's `synth_meta.json` names the
  world and each file's crop); the world re-renders the crop with one attribute changed.
A diffusion-based editor (the original work's) plugs in with `PROXIMITY_EDITORS.register`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image

from personsearch.data.records import CaptionRecord
from personsearch.data.synth.palette import COLOUR_NAMES as WORLD_COLOURS
from personsearch.registry import Registry
from personsearch.text.proximity.caption_edit import colour_phrases, first_colour_phrase, replace_colour
from personsearch.text.proximity.lexicon import COLOURS
from personsearch.text.proximity.recolor import recolor_region

PROXIMITY_EDITORS: Registry = Registry("proximity editor")
SIDECAR = "synth_meta.json"


@dataclass(frozen=True)
class ProximityPair:
    image: Image.Image
    captions: tuple[str, ...]
    attribute: str  # what changed, e.g. "upper:jacket" or the world's attribute name
    old_value: str
    new_value: str


class ProximityEditor(Protocol):
    def edit(self, record: CaptionRecord, rng: random.Random) -> ProximityPair | None: ...


def list_proximity_editors() -> list[str]:
    return PROXIMITY_EDITORS.names()


def build_proximity_editor(name: str, *, root: str | Path) -> ProximityEditor:
    return PROXIMITY_EDITORS.get(name)(root=Path(root))


def edit_captions(captions: tuple[str, ...], *, region: str, old_colour: str, new_colour: str) -> tuple[str, ...]:
    """Captions naming the edited garment region in the old colour get the new colour (first
    such phrase only); captions giving that region another colour are dropped as contradicted."""
    out = []
    for caption in captions:
        phrases = [p for p in colour_phrases(caption) if p.region == region]
        if not phrases:
            out.append(caption)
        elif phrases[0].colour == old_colour:
            out.append(replace_colour(caption, phrases[0], new_colour))
    return tuple(out)


class RecolorEditor:
    def __init__(self, *, root: Path | None = None, min_fraction: float = 0.02) -> None:
        self.min_fraction = float(min_fraction)

    def edit(self, record: CaptionRecord, rng: random.Random) -> ProximityPair | None:
        for caption in record.captions:
            phrase = first_colour_phrase(caption)
            if phrase is None:
                continue
            new_colour = rng.choice([c for c in COLOURS if c != phrase.colour])
            with Image.open(record.image_path) as image:
                edited = recolor_region(image, region=phrase.region, old_colour=phrase.colour,
                                        new_colour=new_colour, min_fraction=self.min_fraction)
            if edited is None:
                continue
            captions = edit_captions((caption,) + tuple(c for c in record.captions if c != caption),
                                     region=phrase.region, old_colour=phrase.colour, new_colour=new_colour)
            return ProximityPair(image=edited, captions=captions, attribute=f"{phrase.region}:{phrase.garment}",
                                 old_value=phrase.colour, new_value=new_colour)
        return None


class SyntheticWorldEditor:
    """Re-renders crops of the synthetic world a dataset was written from."""

    def __init__(self, *, root: Path) -> None:
        from personsearch.data.synth.world import SynthWorld

        sidecar = root / SIDECAR
        if not sidecar.is_file():
            raise FileNotFoundError(f"{sidecar} not found: the synthetic editor needs a dataset written from a "
                                    "synthetic world; use --editor recolor for real images")
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        self.world = SynthWorld(size=meta["world"]["size"], seed=meta["world"]["seed"])
        self.crop_of = {str(Path(path)): int(info["crop_index"]) for path, info in meta["images"].items()}
        self.bases = (root / "imgs", root)

    def crop_index(self, record: CaptionRecord) -> int | None:
        path = Path(record.image_path)
        for base in self.bases:
            try:
                key = str(path.relative_to(base))
            except ValueError:
                continue
            if key in self.crop_of:
                return self.crop_of[key]
        return None

    def edit(self, record: CaptionRecord, rng: random.Random) -> ProximityPair | None:
        index = self.crop_index(record)
        if index is None:
            return None
        editable = self.world.editable_attributes(index)
        if not editable:
            return None
        attribute = rng.choice(sorted(editable))
        new_value = rng.choice([c for c in WORLD_COLOURS if c != editable[attribute]])
        edit = self.world.proximity_edit(index, attribute, new_value)
        return ProximityPair(image=edit.image, captions=tuple(edit.captions), attribute=edit.attribute,
                             old_value=edit.old_value, new_value=edit.new_value)


PROXIMITY_EDITORS.register("recolor")(RecolorEditor)
PROXIMITY_EDITORS.register("synthetic")(SyntheticWorldEditor)

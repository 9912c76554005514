"""Identities: what a person looks like, as named attribute values plus colour shades.

Near-twins copy another identity and change one or two attributes, which is what
makes fine detail (pattern, bag, glasses, hair, shoes) matter for re-identification.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from personsearch.data.synth.palette import (
    COLOURS,
    GARMENT_COLOUR_WEIGHTS,
    HAIR_COLOURS,
    RGB,
    SKIN_TONES,
    sample_jitter,
    sample_name,
    shade,
)

# Attributes whose value is a palette colour name (or "none" when the item is absent).
COLOUR_ATTRIBUTES = ("upper_color", "pattern_color", "lower_color", "shoes_color", "bag_color", "headwear_color")
ATTRIBUTE_NAMES = (
    "gender", "build", "height", "skin_tone", "hair_color", "hair_style",
    "upper_type", "upper_color", "upper_pattern", "pattern_color", "sleeve",
    "lower_type", "lower_color", "shoes_type", "shoes_color",
    "bag", "bag_color", "bag_side", "headwear", "headwear_color", "glasses", "carried",
)
NONE = "none"

_UPPER_TYPES = {"t-shirt": 26, "shirt": 14, "sweater": 12, "hoodie": 10, "jacket": 18, "coat": 12, "tank top": 4}
_PATTERNS = {"solid": 58, "stripes": 13, "checks": 10, "dots": 6, "print": 13}
_LOWER_MAN = {"trousers": 48, "jeans": 38, "shorts": 14}
_LOWER_WOMAN = {"trousers": 34, "jeans": 32, "shorts": 10, "skirt": 24}
_HAIR_MAN = {"short": 58, "buzz": 16, "curly": 10, "bald": 8, "long": 6, "ponytail": 2}
_HAIR_WOMAN = {"long": 40, "ponytail": 22, "bun": 12, "short": 16, "curly": 10}
_SHOES = {"sneakers": 52, "boots": 16, "sandals": 8, "leather shoes": 24}
_BAGS = {NONE: 36, "backpack": 26, "handbag": 14, "shoulder bag": 24}
_HEADWEAR = {NONE: 74, "cap": 12, "beanie": 8, "hat": 6}
_GLASSES = {NONE: 72, "glasses": 18, "sunglasses": 10}
_CARRIED = {NONE: 62, "phone": 12, "cup": 7, "umbrella": 6, "shopping bag": 7, "book": 6}
_JEANS_COLOURS = {"blue": 50, "navy": 20, "black": 20, "grey": 10}
_TWIN_CHANGES = {
    "upper_pattern": 14, "bag": 14, "glasses": 12, "hair_style": 10, "shoes_color": 10, "headwear": 10,
    "carried": 8, "sleeve": 6, "lower_type": 6, "upper_color": 5, "lower_color": 5,
}


@dataclass(frozen=True)
class Identity:
    pid: int
    attributes: dict[str, str]
    jitter: dict[str, tuple[float, float, float, float]]  # colour attribute -> shade offset

    def rgb(self, attribute: str) -> RGB:
        value = self.attributes[attribute]
        if attribute == "skin_tone":
            base = SKIN_TONES[value]
        elif attribute == "hair_color":
            base = HAIR_COLOURS[value]
        else:
            base = COLOURS[value]
        return shade(base, self.jitter[attribute])

    def with_value(self, attribute: str, value: str) -> "Identity":
        return replace(self, attributes={**self.attributes, attribute: value})


def _pick(rng: np.random.Generator, weights: dict[str, float], exclude: str | None = None) -> str:
    return sample_name(rng, weights, exclude=exclude)


def _sleeve_for(upper_type: str, rng: np.random.Generator) -> str:
    if upper_type == "tank top":
        return "sleeveless"
    if upper_type in ("t-shirt", "shirt"):
        return "short" if rng.random() < (0.8 if upper_type == "t-shirt" else 0.4) else "long"
    return "long"


def _fill_dependent(attrs: dict[str, str], rng: np.random.Generator) -> None:
    """Keep the values that depend on another attribute consistent with it."""
    if attrs["upper_pattern"] == "solid":
        attrs["pattern_color"] = NONE
    elif attrs["pattern_color"] == NONE:
        attrs["pattern_color"] = _pick(rng, GARMENT_COLOUR_WEIGHTS["pattern"], exclude=attrs["upper_color"])
    if attrs["bag"] == NONE:
        attrs["bag_color"], attrs["bag_side"] = NONE, NONE
    else:
        if attrs["bag_color"] == NONE:
            attrs["bag_color"] = _pick(rng, GARMENT_COLOUR_WEIGHTS["bag"])
        if attrs["bag_side"] == NONE:
            attrs["bag_side"] = "left" if rng.random() < 0.5 else "right"
    if attrs["headwear"] == NONE:
        attrs["headwear_color"] = NONE
    elif attrs["headwear_color"] == NONE:
        attrs["headwear_color"] = _pick(rng, GARMENT_COLOUR_WEIGHTS["headwear"])
    if attrs["upper_type"] == "tank top":
        attrs["sleeve"] = "sleeveless"
    elif attrs["sleeve"] == "sleeveless":
        attrs["sleeve"] = "short"


def sample_attributes(rng: np.random.Generator) -> dict[str, str]:
    gender = "man" if rng.random() < 0.5 else "woman"
    upper_type = _pick(rng, _UPPER_TYPES)
    lower_type = _pick(rng, _LOWER_MAN if gender == "man" else _LOWER_WOMAN)
    attrs = {
        "gender": gender,
        "build": _pick(rng, {"slim": 30, "average": 50, "heavy": 20}),
        "height": _pick(rng, {"short": 25, "average": 50, "tall": 25}),
        "skin_tone": _pick(rng, {name: 1.0 for name in SKIN_TONES}),
        "hair_color": _pick(rng, {"black": 44, "brown": 30, "blonde": 12, "auburn": 5, "grey": 9}),
        "hair_style": _pick(rng, _HAIR_MAN if gender == "man" else _HAIR_WOMAN),
        "upper_type": upper_type,
        "upper_color": _pick(rng, GARMENT_COLOUR_WEIGHTS["upper"]),
        "upper_pattern": _pick(rng, _PATTERNS),
        "pattern_color": NONE,
        "sleeve": _sleeve_for(upper_type, rng),
        "lower_type": lower_type,
        "lower_color": _pick(rng, _JEANS_COLOURS if lower_type == "jeans" else GARMENT_COLOUR_WEIGHTS["lower"]),
        "shoes_type": _pick(rng, _SHOES),
        "shoes_color": _pick(rng, GARMENT_COLOUR_WEIGHTS["shoes"]),
        "bag": _pick(rng, _BAGS),
        "bag_color": NONE,
        "bag_side": NONE,
        "headwear": _pick(rng, _HEADWEAR),
        "headwear_color": NONE,
        "glasses": _pick(rng, _GLASSES),
        "carried": _pick(rng, _CARRIED),
    }
    _fill_dependent(attrs, rng)
    return attrs


def _sample_jitters(rng: np.random.Generator) -> dict[str, tuple[float, float, float, float]]:
    return {name: sample_jitter(rng) for name in (*COLOUR_ATTRIBUTES, "skin_tone", "hair_color")}


def sample_identity(pid: int, rng: np.random.Generator) -> Identity:
    return Identity(pid=pid, attributes=sample_attributes(rng), jitter=_sample_jitters(rng))


def _choices_for(attribute: str, attrs: dict[str, str]) -> dict[str, float]:
    if attribute == "upper_pattern":
        return _PATTERNS
    if attribute == "bag":
        return _BAGS
    if attribute == "glasses":
        return _GLASSES
    if attribute == "hair_style":
        return _HAIR_MAN if attrs["gender"] == "man" else _HAIR_WOMAN
    if attribute == "headwear":
        return _HEADWEAR
    if attribute == "carried":
        return _CARRIED
    if attribute == "sleeve":
        return {"short": 1, "long": 1}
    if attribute == "lower_type":
        return _LOWER_MAN if attrs["gender"] == "man" else _LOWER_WOMAN
    if attribute == "upper_color":
        return GARMENT_COLOUR_WEIGHTS["upper"]
    if attribute == "lower_color":
        return GARMENT_COLOUR_WEIGHTS["lower"]
    return GARMENT_COLOUR_WEIGHTS["shoes"]


def make_near_twin(pid: int, source: Identity, rng: np.random.Generator) -> Identity:
    """Copy `source` (shades included) and change one or two attributes."""
    attrs = dict(source.attributes)
    num_changes = 1 if rng.random() < 0.6 else 2
    changed: list[str] = []
    while len(changed) < num_changes:
        attribute = _pick(rng, {k: v for k, v in _TWIN_CHANGES.items() if k not in changed})
        if attribute == "sleeve" and attrs["upper_type"] == "tank top":
            continue
        attrs[attribute] = _pick(rng, _choices_for(attribute, attrs), exclude=attrs[attribute])
        changed.append(attribute)
    _fill_dependent(attrs, rng)
    return Identity(pid=pid, attributes=attrs, jitter=dict(source.jitter))


def build_identities(num_identities: int, near_twin_fraction: float, rng: np.random.Generator) -> list[Identity]:
    identities: list[Identity] = []
    for pid in range(num_identities):
        if identities and rng.random() < near_twin_fraction:
            source = identities[int(rng.integers(len(identities)))]
            identities.append(make_near_twin(pid, source, rng))
        else:
            identities.append(sample_identity(pid, rng))
    return identities


# Values filled in from another attribute: they change with it and do not count as a difference.
DEPENDENT_ON = {"pattern_color": "upper_pattern", "bag_color": "bag", "bag_side": "bag", "headwear_color": "headwear"}


def differing_attributes(a: Identity, b: Identity) -> list[str]:
    """The attributes in which two identities differ, not counting values that follow a changed parent."""
    changed = [name for name in ATTRIBUTE_NAMES if a.attributes[name] != b.attributes[name]]
    return [name for name in changed if DEPENDENT_ON.get(name) not in changed]

"""Which attributes a viewpoint shows. The figure renderer and the captions share these rules."""

from __future__ import annotations

from personsearch.data.synth.identity import NONE

SIDE_VIEWS = ("left", "right")
BACKPACK_STRAPS = "backpack straps"  # what the front view shows of a backpack
# Carried objects are held in the right hand.
CARRY_HAND = "right"


def near_side(viewpoint: str) -> str | None:
    """The person's own side that faces the camera in a side view ("left" view shows the left side)."""
    return viewpoint if viewpoint in SIDE_VIEWS else None


def bag_visible(attrs: dict[str, str], viewpoint: str) -> bool:
    """Whether the bag itself (not just straps) is in view."""
    bag = attrs["bag"]
    if bag == NONE:
        return False
    if bag == "backpack":
        return viewpoint != "front"
    side = near_side(viewpoint)
    return side is None or side == attrs["bag_side"]


def carried_visible(attrs: dict[str, str], viewpoint: str) -> bool:
    side = near_side(viewpoint)
    return attrs["carried"] != NONE and (side is None or side == CARRY_HAND)


def hair_visible(attrs: dict[str, str]) -> bool:
    return attrs["headwear"] == NONE or attrs["hair_style"] in ("long", "ponytail", "curly")


def visible_attributes(attrs: dict[str, str], viewpoint: str) -> dict[str, str]:
    """The attribute values a picture from `viewpoint` shows; hidden ones are left out."""
    visible = {name: attrs[name] for name in (
        "gender", "build", "height", "skin_tone", "upper_type", "upper_color", "sleeve",
        "lower_type", "lower_color", "shoes_type", "shoes_color", "headwear",
    )}
    if attrs["headwear"] != NONE:
        visible["headwear_color"] = attrs["headwear_color"]
    if hair_visible(attrs):
        visible["hair_style"] = attrs["hair_style"]
        if attrs["hair_style"] != "bald":
            visible["hair_color"] = attrs["hair_color"]
    if attrs["upper_pattern"] != "print" or viewpoint == "front":
        visible["upper_pattern"] = attrs["upper_pattern"]
        if attrs["upper_pattern"] != "solid":
            visible["pattern_color"] = attrs["pattern_color"]
    if viewpoint != "back":
        visible["glasses"] = attrs["glasses"]
    if bag_visible(attrs, viewpoint):
        visible["bag"] = attrs["bag"]
        visible["bag_color"] = attrs["bag_color"]
        visible["bag_side"] = attrs["bag_side"]
    elif attrs["bag"] == "backpack" and viewpoint == "front":
        visible["bag"] = BACKPACK_STRAPS
    if carried_visible(attrs, viewpoint):
        visible["carried"] = attrs["carried"]
    return visible

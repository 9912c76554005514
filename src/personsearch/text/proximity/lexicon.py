"""Colour words (CTLG's ten) and garment words with the body region each one covers.

Regions are (top, bottom, left, right) fractions of a person crop.
"""

from __future__ import annotations

COLOURS: tuple[str, ...] = ("red", "yellow", "green", "purple", "white", "brown", "blue", "orange", "pink", "grey")
COLOUR_ALIASES: dict[str, str] = {"gray": "grey"}

REGIONS: dict[str, tuple[float, float, float, float]] = {
    "head": (0.0, 0.16, 0.2, 0.8),
    "upper": (0.15, 0.55, 0.08, 0.92),
    "lower": (0.48, 0.88, 0.15, 0.85),
    "full": (0.15, 0.88, 0.08, 0.92),
    "feet": (0.84, 1.0, 0.1, 0.9),
    "carried": (0.15, 0.75, 0.0, 1.0),
}

GARMENTS: dict[str, str] = {
    **dict.fromkeys(("hat", "cap", "beanie", "helmet", "hood"), "head"),
    **dict.fromkeys(("shirt", "t-shirt", "tshirt", "tee", "top", "blouse", "jacket", "coat", "sweater", "hoodie",
                     "sweatshirt", "vest", "cardigan", "jumper", "pullover", "tank"), "upper"),
    **dict.fromkeys(("pants", "trousers", "jeans", "shorts", "skirt", "leggings", "slacks", "capris"), "lower"),
    **dict.fromkeys(("dress", "gown", "jumpsuit", "overalls"), "full"),
    **dict.fromkeys(("shoes", "sneakers", "boots", "sandals", "heels", "slippers", "trainers"), "feet"),
    **dict.fromkeys(("bag", "backpack", "handbag", "purse", "suitcase", "umbrella"), "carried"),
}


def colour_of(word: str) -> str | None:
    word = word.lower()
    word = COLOUR_ALIASES.get(word, word)
    return word if word in COLOURS else None


def garment_region(word: str) -> str | None:
    word = word.lower()
    if word in GARMENTS:
        return GARMENTS[word]
    if word.endswith("s") and word[:-1] in GARMENTS:
        return GARMENTS[word[:-1]]
    return None

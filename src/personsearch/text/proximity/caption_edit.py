"""Change one garment colour in a caption: the first noun phrase holding a colour word
followed (within the phrase) by a garment word, e.g. "a red jacket" -> "a blue jacket"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from personsearch.text.proximity.lexicon import colour_of, garment_region

_WORD = re.compile(r"[A-Za-z][A-Za-z\-]*")
_PUNCT = re.compile(r"[,.;:!?()]")
_PHRASE_BREAK = {"and", "with", "while", "but", "or", "that", "who", "which", "is", "has", "are", "carrying",
                 "wearing", "holding"}
_MAX_GAP = 3  # words allowed between the colour and the garment ("red and white striped shirt" stops at "and")


@dataclass(frozen=True)
class ColourPhrase:
    colour: str  # canonical colour name
    garment: str
    region: str
    start: int  # character span of the colour word in the caption
    end: int


def colour_phrases(caption: str) -> list[ColourPhrase]:
    """Every (colour word, garment word) pair inside one phrase, in caption order. A phrase ends
    at punctuation, a conjunction / verb from the break list, or another colour word."""
    words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(caption)]
    found = []
    for i, (word, start, end) in enumerate(words):
        colour = colour_of(word)
        if colour is None:
            continue
        prev_end = end
        for word2, start2, end2 in words[i + 1:i + 2 + _MAX_GAP]:
            if _PUNCT.search(caption[prev_end:start2]) or word2.lower() in _PHRASE_BREAK or colour_of(word2):
                break
            region = garment_region(word2)
            if region is not None:
                found.append(ColourPhrase(colour=colour, garment=word2.lower(), region=region, start=start, end=end))
                break
            prev_end = end2
    return found


def first_colour_phrase(caption: str) -> ColourPhrase | None:
    phrases = colour_phrases(caption)
    return phrases[0] if phrases else None


def replace_colour(caption: str, phrase: ColourPhrase, new_colour: str) -> str:
    old = caption[phrase.start:phrase.end]
    new = new_colour.capitalize() if old[:1].isupper() else new_colour
    return caption[:phrase.start] + new + caption[phrase.end:]

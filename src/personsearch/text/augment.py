"""Approximate text generation (CTLG): with probability p per caption, one of synonym
replacement, random word crop or random word deletion, each touching `fraction` of the words.

Never returns an empty caption; the result is a pure function of the caption and the RNG.
"""

from __future__ import annotations

import random
import re

from personsearch.registry import Registry
from personsearch.text.synonyms import SYNONYMS

TEXT_AUGMENTATIONS: Registry = Registry("text augmentation")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*|[^\sA-Za-z]+")


def list_text_augmentations() -> list[str]:
    return TEXT_AUGMENTATIONS.names()


def _count(words: list[str], fraction: float) -> int:
    return max(1, int(round(fraction * len(words))))


def _join(words: list[str]) -> str:
    text = " ".join(words)
    return re.sub(r"\s+([,.;:!?])", r"\1", text)


@TEXT_AUGMENTATIONS.register("synonym")
def synonym_replacement(words: list[str], rng: random.Random, fraction: float) -> list[str]:
    """Replace up to `fraction` of the words that have an entry in the synonym table."""
    candidates = [i for i, w in enumerate(words) if w.lower() in SYNONYMS]
    out = list(words)
    for i in rng.sample(candidates, min(len(candidates), _count(words, fraction))):
        replacement = rng.choice(SYNONYMS[words[i].lower()])
        out[i] = replacement.capitalize() if words[i][:1].isupper() else replacement
    return out


@TEXT_AUGMENTATIONS.register("crop")
def word_crop(words: list[str], rng: random.Random, fraction: float) -> list[str]:
    """Delete one contiguous span of `fraction` of the words, as the nlpaug word crop CTLG used;
    here the first and last words always stay."""
    if len(words) < 3:
        return list(words)
    span = min(_count(words, fraction), len(words) - 2)
    start = rng.randint(1, len(words) - 1 - span)
    return words[:start] + words[start + span:]


@TEXT_AUGMENTATIONS.register("delete")
def word_deletion(words: list[str], rng: random.Random, fraction: float) -> list[str]:
    """Delete `fraction` of the words at random positions (at least one word survives)."""
    drop = set(rng.sample(range(len(words)), min(len(words) - 1, _count(words, fraction))))
    return [w for i, w in enumerate(words) if i not in drop]


class ApproximateText:
    """Callable `(caption, rng) -> caption` applying one randomly chosen operation with probability p."""

    def __init__(self, *, p: float = 0.5, fraction: float = 0.2,
                 operations: tuple[str, ...] = ("synonym", "crop", "delete")) -> None:
        if not 0.0 <= p <= 1.0 or not 0.0 < fraction < 1.0:
            raise ValueError(f"need 0 <= p <= 1 and 0 < fraction < 1, got p={p}, fraction={fraction}")
        if not operations:
            raise ValueError("approximate text generation needs at least one operation")
        self.p = float(p)
        self.fraction = float(fraction)
        self.operations = tuple(operations)
        self._functions = [TEXT_AUGMENTATIONS.get(name) for name in self.operations]

    def __call__(self, caption: str, rng: random.Random) -> str:
        if rng.random() >= self.p:
            return caption
        words = _TOKEN.findall(caption)
        if len(words) < 2:
            return caption
        out = rng.choice(self._functions)(words, rng, self.fraction)
        text = _join(out).strip()
        return text if any(ch.isalnum() for ch in text) else caption

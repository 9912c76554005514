"""Named colours, how often each garment kind wears them, and per-identity shade jitter.

Real crowds dress mostly in dark and neutral colours, so the weights are skewed that
way: colour alone should not tell two people apart.
"""

from __future__ import annotations

import numpy as np

RGB = tuple[int, int, int]

COLOURS: dict[str, RGB] = {
    "black": (30, 30, 33),
    "grey": (125, 126, 128),
    "white": (228, 228, 224),
    "navy": (32, 42, 82),
    "blue": (52, 96, 170),
    "beige": (200, 180, 145),
    "brown": (105, 68, 42),
    "khaki": (150, 140, 95),
    "green": (52, 115, 62),
    "red": (178, 36, 42),
    "pink": (222, 148, 170),
    "purple": (105, 56, 130),
    "yellow": (222, 196, 58),
    "orange": (222, 118, 38),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)

_NEUTRAL_HEAVY = {
    "black": 20, "grey": 13, "white": 10, "navy": 10, "blue": 8, "beige": 6, "brown": 6,
    "khaki": 3, "green": 5, "red": 5, "pink": 4, "purple": 3, "yellow": 3, "orange": 3,
}
GARMENT_COLOUR_WEIGHTS: dict[str, dict[str, float]] = {
    "upper": _NEUTRAL_HEAVY,
    "lower": {"black": 30, "navy": 14, "blue": 14, "grey": 14, "beige": 8, "brown": 6, "khaki": 6,
              "white": 3, "green": 2, "red": 1, "pink": 1, "purple": 0.5, "yellow": 0.3, "orange": 0.3},
    "shoes": {"black": 36, "white": 26, "grey": 12, "brown": 10, "navy": 4, "blue": 3, "beige": 4,
              "red": 2, "pink": 1, "green": 1, "khaki": 1},
    "bag": {"black": 38, "brown": 14, "grey": 10, "navy": 8, "beige": 7, "blue": 5, "red": 5,
            "green": 3, "pink": 3, "white": 3, "khaki": 2, "purple": 1, "yellow": 1, "orange": 1},
    "headwear": {"black": 30, "grey": 14, "navy": 12, "white": 12, "beige": 8, "red": 7, "blue": 6,
                 "brown": 4, "green": 3, "khaki": 2, "pink": 1, "yellow": 1},
    "pattern": {"white": 30, "black": 22, "grey": 12, "navy": 8, "red": 7, "blue": 6, "yellow": 4,
                "beige": 4, "green": 3, "brown": 2, "pink": 2},
}

SKIN_TONES: dict[str, RGB] = {
    "fair": (236, 200, 178),
    "light": (222, 180, 150),
    "medium": (196, 148, 112),
    "olive": (176, 136, 96),
    "tan": (146, 102, 70),
    "dark": (96, 64, 46),
}
HAIR_COLOURS: dict[str, RGB] = {
    "black": (22, 20, 20),
    "brown": (78, 52, 34),
    "blonde": (196, 160, 96),
    "auburn": (124, 54, 34),
    "grey": (150, 148, 144),
}


def sample_name(rng: np.random.Generator, weights: dict[str, float], exclude: str | None = None) -> str:
    names = [name for name in weights if name != exclude]
    p = np.array([weights[name] for name in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def sample_jitter(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A shade offset: overall lightness scale and a small per-channel tint."""
    lightness = float(rng.normal(0.0, 0.09))
    tint = rng.normal(0.0, 9.0, size=3)
    return (lightness, float(tint[0]), float(tint[1]), float(tint[2]))


def shade(base: RGB, jitter: tuple[float, float, float, float]) -> RGB:
    lightness, *tint = jitter
    out = [int(np.clip(c * (1.0 + lightness) + t + 12 * lightness, 0, 255)) for c, t in zip(base, tint)]
    return (out[0], out[1], out[2])

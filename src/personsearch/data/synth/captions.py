"""Descriptions of what a person image shows, in the style of CUHK-PEDES annotators.

Every colour is written as its palette name and no word around it depends on which
colour it is (no "a"/"an" right before a colour), so a proximity edit changes exactly
one word. Random choices never depend on colour values, so re-describing an edited
person with the same generator state yields the same sentences with one word swapped.
"""

from __future__ import annotations

import numpy as np

from personsearch.data.synth.identity import NONE
from personsearch.data.synth.visibility import BACKPACK_STRAPS

MIN_WORDS, MAX_WORDS = 15, 60

_SUBJECTS = {
    "man": ("man", "guy", "gentleman", "young man", "middle-aged man", "male pedestrian", "person", "adult male",
            "teenage boy", "older man", "male commuter"),
    "woman": ("woman", "lady", "girl", "young woman", "middle-aged woman", "female pedestrian", "person",
              "adult female", "teenage girl", "older woman", "female commuter"),
}
_PRONOUNS = {"man": ("he", "his"), "woman": ("she", "her")}
_BUILD = {"slim": ("slim", "slender", "thin", "skinny"), "average": ("", "", "medium-built", "regular-sized"),
          "heavy": ("heavy", "stocky", "chubby", "broad")}
_HEIGHT = {"short": ("short", "small"), "average": ("", ""), "tall": ("tall", "lanky")}
_VIEW = {
    "front": ("facing the camera", "walking towards the camera", "seen from the front", "approaching the viewer"),
    "back": ("seen from behind", "walking away from the camera", "with {his} back to the camera", "heading away"),
    "left": ("seen in profile", "walking to the left", "side-on to the camera", "crossing the frame from right to left"),
    "right": ("seen in profile", "walking to the right", "side-on to the camera", "crossing the frame from left to right"),
}
_CONTEXT = {
    "street": ("on the pavement", "along the street", "near the road", "on a city sidewalk", "beside some shops",
               "past parked cars", "downtown"),
    "plaza": ("across the square", "in the plaza", "on the paved square", "through an open courtyard",
              "near the fountain area", "outside the station"),
    "mall": ("inside the shopping centre", "in the mall", "along the indoor corridor", "on the tiled floor",
             "past the storefronts", "inside a busy arcade"),
    "park": ("in the park", "on the footpath", "through the gardens", "beside the lawn", "under the trees",
             "along a gravel trail"),
}
_GAIT = ("walking briskly", "strolling", "in mid-stride", "moving at a relaxed pace", "walking steadily",
         "hurrying", "wandering slowly", "passing by", "commuting", "striding purposefully", "ambling casually")
_REMARKS = ("Nothing else about {his} appearance stands out.", "{His} posture is upright and relaxed.",
            "{He} seems to be in a hurry.", "{He} looks calm and focused.", "{His} arms swing naturally as {he} moves.",
            "{He} appears to be alone.", "{His} clothes look neat and ordinary.", "{His} expression is hard to read.",
            "{He} keeps {his} gaze straight ahead.", "Most of {his} body is clearly shown.")
_UPPER = {
    "t-shirt": ("t-shirt", "tee", "cotton t-shirt"), "shirt": ("shirt", "button-up shirt", "collared shirt"),
    "sweater": ("sweater", "jumper", "pullover"), "hoodie": ("hoodie", "hooded sweatshirt", "hoodie"),
    "jacket": ("jacket", "zip-up jacket", "light jacket"), "coat": ("coat", "long coat", "overcoat"),
    "tank top": ("tank top", "vest top", "sleeveless top"),
}
_SLEEVE_ADJ = {"short": "short-sleeved", "long": "long-sleeved", "sleeveless": "sleeveless"}
_SLEEVE_TAIL = {"short": "with short sleeves", "long": "with long sleeves", "sleeveless": "without sleeves"}
_PATTERN_TAIL = {
    "stripes": ("with {c} stripes", "striped with {c} lines", "with horizontal {c} stripes"),
    "checks": ("with {c} checks", "with {c} plaid lines", "in a checked pattern of {c} lines"),
    "dots": ("covered in {c} dots", "with {c} polka dots", "dotted with {c} spots"),
    "print": ("with {c} graphic print on the front", "with {c} logo on the chest", "bearing {c} printed design"),
}
_LOWER = {
    "trousers": ("{c} trousers", "{c} pants", "long {c} trousers", "pair of {c} slacks"),
    "jeans": ("{c} jeans", "{c} denim jeans", "pair of {c} jeans", "fitted {c} denims"),
    "shorts": ("{c} shorts", "knee-length {c} shorts", "pair of {c} shorts", "casual {c} shorts"),
    "skirt": ("flared {c} skirt", "pleated {c} skirt", "knee-length {c} skirt", "simple {c} skirt"),
}
_SHOES = {
    "sneakers": ("sneakers", "trainers", "running shoes"), "boots": ("boots", "ankle boots", "leather boots"),
    "sandals": ("sandals", "open sandals", "flat sandals"), "leather shoes": ("leather shoes", "dress shoes", "loafers"),
}
_HAIR = {
    "short": ("short {c} hair", "{c} hair cut short", "cropped {c} hair"),
    "buzz": ("very short {c} hair", "{c} buzz cut", "closely shaved {c} hair"),
    "long": ("long {c} hair", "{c} hair down to the shoulders", "shoulder-length {c} hair"),
    "ponytail": ("{c} hair tied back in a ponytail", "{c} hair in a ponytail", "long {c} hair pulled into a ponytail"),
    "bun": ("{c} hair pulled up into a bun", "{c} hair tied in a bun", "{c} hair gathered in a neat bun"),
    "curly": ("curly {c} hair", "thick curly {c} hair", "{c} curls"),
    "bald": ("a shaved head", "a bald head", "no hair on top"),
}
_HEADWEAR = {"cap": ("cap", "baseball cap", "peaked cap"), "beanie": ("beanie", "knitted hat", "wool hat"),
             "hat": ("hat", "wide-brimmed hat", "sun hat")}
_HEADWEAR_ADJ = ("simple", "plain", "casual", "small")
_GLASSES = {"glasses": ("glasses", "eyeglasses", "spectacles", "thin-framed glasses"),
            "sunglasses": ("sunglasses", "dark sunglasses", "shades", "tinted sunglasses")}
_BAG_ADJ = ("small", "large", "medium-sized", "sturdy", "compact")
_BAG = {
    "backpack": ("{He} carries a {adj} {c} backpack on {his} back", "a {adj} {c} backpack hangs from {his} shoulders",
                 "{He} has a {adj} {c} rucksack strapped on"),
    "handbag": ("{He} holds a {adj} {c} handbag in {his} {side} hand", "a {adj} {c} purse hangs from {his} {side} hand",
                "{He} carries a {adj} {c} handbag on the {side}"),
    "shoulder bag": ("a {adj} {c} shoulder bag hangs at {his} {side} hip", "{He} has a {adj} {c} bag over {his} {side} shoulder",
                     "{He} carries a {adj} {c} messenger bag on the {side} side"),
    BACKPACK_STRAPS: ("dark straps run over both of {his} shoulders", "{He} has shoulder straps over {his} top",
                      "two straps cross {his} shoulders"),
}
_CARRIED = {
    "phone": ("{He} is looking at a phone", "{He} holds a mobile phone", "{He} has a smartphone in {his} hand"),
    "cup": ("{He} holds a coffee cup", "{He} carries a paper cup", "{He} has a takeaway drink in hand"),
    "umbrella": ("{He} carries a closed umbrella", "{He} holds a folded umbrella", "a furled umbrella is in {his} hand"),
    "shopping bag": ("{He} carries a paper shopping bag", "{He} holds a shopping bag", "a brown paper bag dangles from {his} hand"),
    "book": ("{He} holds a book", "{He} carries a notebook", "{He} has a book in {his} hand"),
}
_SKIN = {"fair": "fair", "light": "light", "medium": "medium", "olive": "olive", "tan": "tanned", "dark": "dark"}


class _Writer:
    def __init__(self, visible: dict[str, str], viewpoint: str, style: str, rng: np.random.Generator) -> None:
        self.v = visible
        self.view = viewpoint
        self.style = style
        self.rng = rng
        self.he, self.his = _PRONOUNS[visible["gender"]]

    def pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def fill(self, text: str, **values: str) -> str:
        return text.format(He=self.he.capitalize(), he=self.he, his=self.his, His=self.his.capitalize(), **values)

    def upper(self) -> str:
        v = self.v
        garment = self.pick(_UPPER[v["upper_type"]])
        tail = ""
        if v.get("upper_pattern", "solid") != "solid":
            tail = " " + self.pick(_PATTERN_TAIL[v["upper_pattern"]]).format(c=v["pattern_color"])
        form = int(self.rng.integers(3))
        sleeve = v["sleeve"]
        if form == 0:
            return f"a {_SLEEVE_ADJ[sleeve]} {v['upper_color']} {garment}{tail}"
        if form == 1:
            return f"a {garment} in {v['upper_color']}{tail} {_SLEEVE_TAIL[sleeve]}"
        return f"a {_SLEEVE_ADJ[sleeve]} {garment} that is {v['upper_color']}{tail}"

    def lower(self) -> str:
        text = self.pick(_LOWER[self.v["lower_type"]]).format(c=self.v["lower_color"])
        return ("a " + text) if text.split()[0] in ("pair", "flared", "pleated", "knee-length", "simple") else text

    def shoes(self) -> str:
        kind = self.pick(_SHOES[self.v["shoes_type"]])
        return self.pick(("{c} {k}", "a pair of {c} {k}", "comfortable {c} {k}")).format(c=self.v["shoes_color"], k=kind)

    def opening(self) -> str:
        v = self.v
        subject = self.pick(_SUBJECTS[v["gender"]])
        adjectives = " ".join(w for w in (self.pick(_HEIGHT[v["height"]]), self.pick(_BUILD[v["build"]])) if w)
        noun = f"{adjectives} {subject}".strip()
        view = self.fill(self.pick(_VIEW[self.view]))
        upper = self.upper()
        form = int(self.rng.integers(4))
        if form == 0:
            return f"The {noun} {view} is wearing {upper}."
        if form == 1:
            return f"This {noun} is dressed in {upper} and is {view}."
        if form == 2:
            return f"A {noun} in {upper}, {view}."
        return f"The image shows a {noun} {view}, who wears {upper}."

    def lower_sentence(self) -> str:
        form = int(self.rng.integers(3))
        lower, shoes = self.lower(), self.shoes()
        if form == 0:
            return self.fill("{He} has on {l} and {s}.", l=lower, s=shoes)
        if form == 1:
            return self.fill("Below the waist {he} wears {l}, with {s} on {his} feet.", l=lower, s=shoes)
        return self.fill("{His} outfit is completed by {l} and {s}.", l=lower, s=shoes)

    def optional_sentences(self) -> list[tuple[int, str]]:
        """(priority, sentence): lower priority numbers are dropped first when a caption runs long."""
        v = self.v
        out: list[tuple[int, str]] = []
        if "hair_style" in v:
            hair = self.pick(_HAIR[v["hair_style"]]).format(c=v.get("hair_color", ""))
            out.append((3, self.fill(self.pick(("{He} has {h}.", "{His} look includes {h}.", "You can see {h}.")), h=hair)))
        if v["headwear"] != NONE:
            noun = self.pick(_HEADWEAR[v["headwear"]])
            adj = self.pick(_HEADWEAR_ADJ)
            out.append((5, self.fill(self.pick(("{He} wears a {a} {c} {n} on {his} head.", "On {his} head is a {a} {c} {n}.")),
                                     a=adj, c=v["headwear_color"], n=noun)))
        if v.get("glasses", NONE) != NONE:
            out.append((4, self.fill(self.pick(("{He} wears {g}.", "{He} has {g} on.", "{His} eyes are behind {g}.")),
                                     g=self.pick(_GLASSES[v["glasses"]]))))
        if "bag" in v:
            text = self.fill(self.pick(_BAG[v["bag"]]), adj=self.pick(_BAG_ADJ), c=v.get("bag_color", ""),
                             side=v.get("bag_side", ""))
            out.append((5, _cap(text) + "."))
        if "carried" in v:
            out.append((2, _cap(self.fill(self.pick(_CARRIED[v["carried"]]))) + "."))
        out.append((1, self.fill(self.pick(("{He} appears to be {g} {ctx}.", "The photo was taken {ctx} while {he} was {g}.",
                                            "{He} is {g} {ctx}.")), g=self.pick(_GAIT), ctx=self.pick(_CONTEXT[self.style]))))
        extra = self.pick(("{He} has {s} skin.", "{His} skin tone is {s}.", "{He} looks to have {s} skin."))
        out.append((0, self.fill(extra, s=_SKIN[v["skin_tone"]])))
        if self.rng.random() < 0.5:
            out.append((0, self.fill(self.pick(_REMARKS))))
        return out

    def caption(self) -> str:
        first = [self.opening(), self.lower_sentence()]
        optional = self.optional_sentences()
        order = self.rng.permutation(len(optional))
        optional = [optional[k] for k in order]
        # Put the clothing sentence before or after the accessories.
        lower_last = bool(self.rng.random() < 0.3)
        while True:
            body = [first[0]] + ([] if lower_last else [first[1]]) + [s for _, s in optional] + ([first[1]] if lower_last else [])
            text = " ".join(body)
            if len(text.split()) <= MAX_WORDS or not optional:
                break
            weakest = min(range(len(optional)), key=lambda k: optional[k][0])
            optional.pop(weakest)
        return text


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe(visible: dict[str, str], viewpoint: str, style: str, rng: np.random.Generator) -> tuple[str, str]:
    """Two different descriptions of the visible attributes."""
    first = _Writer(visible, viewpoint, style, rng).caption()
    for _ in range(20):
        second = _Writer(visible, viewpoint, style, rng).caption()
        if second != first:
            return first, second
    return first, second + " " + _cap(_PRONOUNS[visible["gender"]][0]) + " is clearly visible."

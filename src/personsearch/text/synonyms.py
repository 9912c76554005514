"""Built-in synonym table for pedestrian descriptions (no downloads).

Each group lists interchangeable words; a word maps to the other members of its group.
No group touches a colour word or a colour's shade ("dark", "light"): rewriting one could
change which person a caption describes, and colours are what the proximity pairs edit.
"""

from __future__ import annotations

SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("man", "guy", "gentleman", "male"),
    ("woman", "lady", "female"),
    ("boy", "lad"),
    ("girl", "lass"),
    ("person", "pedestrian", "individual"),
    ("wearing", "dressed in", "in"),
    ("wears", "has on", "is wearing"),
    ("carrying", "holding", "toting"),
    ("carries", "holds"),
    ("walking", "strolling"),
    ("shirt", "top"),
    ("t-shirt", "tee", "tshirt"),
    ("pants", "trousers", "slacks"),
    ("jeans", "denims"),
    ("jacket", "coat"),
    ("sweater", "jumper", "pullover"),
    ("shoes", "footwear"),
    ("sneakers", "trainers", "running shoes"),
    ("bag", "handbag", "purse"),
    ("backpack", "rucksack", "knapsack"),
    ("hat", "cap"),
    ("skirt", "miniskirt"),
    ("dress", "gown", "frock"),
    ("hair", "locks"),
    ("long", "lengthy"),
    ("short", "cropped"),
    ("big", "large"),
    ("small", "little"),
    ("looks", "appears"),
    ("young", "youthful"),
    ("old", "elderly", "aged"),
    ("thin", "slim", "slender"),
    ("also", "too", "as well"),
    ("and", "plus"),
    ("with", "having"),
    ("around", "about"),
)


def build_synonym_table(groups: tuple[tuple[str, ...], ...] = SYNONYM_GROUPS) -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for group in groups:
        for word in group:
            if " " in word:
                continue  # only single words are looked up; phrases are replacements
            table.setdefault(word, [])
            table[word].extend(w for w in group if w != word and w not in table[word])
    return {word: tuple(alts) for word, alts in table.items() if alts}


SYNONYMS: dict[str, tuple[str, ...]] = build_synonym_table()

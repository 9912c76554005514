import random

import pytest

from personsearch.text.augment import ApproximateText, list_text_augmentations, word_crop, word_deletion
from personsearch.text.synonyms import SYNONYMS

CAPTIONS = [
    "A young woman wearing a red jacket, blue jeans and white shoes is walking with a black bag.",
    "man",
    "a man in a grey shirt",
    "!!",
]


def test_operations_are_listed():
    assert list_text_augmentations() == ["crop", "delete", "synonym"]


def test_same_seed_same_result_and_different_seeds_vary():
    aug = ApproximateText(p=1.0)
    caption = CAPTIONS[0]
    first = [aug(caption, random.Random(s)) for s in range(20)]
    again = [aug(caption, random.Random(s)) for s in range(20)]
    assert first == again
    assert len(set(first)) > 5


@pytest.mark.parametrize("name", ["synonym", "crop", "delete"])
def test_each_operation_never_empties_a_caption(name):
    aug = ApproximateText(p=1.0, fraction=0.9, operations=(name,))
    for caption in CAPTIONS:
        for seed in range(50):
            out = aug(caption, random.Random(seed))
            assert out.strip(), (caption, seed)


def test_probability_half_leaves_about_half_unchanged():
    aug = ApproximateText(p=0.5, operations=("delete",))
    unchanged = sum(aug(CAPTIONS[0], random.Random(s)) == CAPTIONS[0] for s in range(400))
    assert 150 < unchanged < 250


def test_crop_and_delete_touch_twenty_percent_of_the_words():
    words = [f"w{i}" for i in range(20)]
    assert len(word_crop(words, random.Random(0), 0.2)) == 16
    kept = word_deletion(words, random.Random(0), 0.2)
    assert len(kept) == 16 and set(kept) < set(words)
    for seed in range(30):
        crop = word_crop(words, random.Random(seed), 0.2)
        assert crop[0] == "w0" and crop[-1] == "w19"  # both ends stay
        start = next(i for i, (a, b) in enumerate(zip(words, crop)) if a != b)
        assert crop == words[:start] + words[start + 4:]  # one contiguous span of 4 deleted


def test_crop_of_very_short_captions_keeps_both_ends():
    assert word_crop(["a", "man"], random.Random(0), 0.5) == ["a", "man"]
    assert word_crop(["a", "tall", "man"], random.Random(0), 0.9) == ["a", "man"]


def test_no_synonym_rewrites_a_colour_or_shade():
    from personsearch.data.synth.palette import COLOUR_NAMES
    from personsearch.text.proximity.lexicon import COLOUR_ALIASES, COLOURS

    colour_words = set(COLOURS) | set(COLOUR_ALIASES) | set(COLOUR_NAMES) | {"black", "dark", "light", "pale", "deep"}
    for word, alternatives in SYNONYMS.items():
        assert word not in colour_words, word
        assert not colour_words & {w for alt in alternatives for w in alt.split()}, (word, alternatives)


def test_synonym_replacement_uses_the_table():
    aug = ApproximateText(p=1.0, fraction=0.2, operations=("synonym",))
    out = aug("woman jacket pants shoes bag", random.Random(1)).split()
    original = "woman jacket pants shoes bag".split()
    changed = [(a, b) for a, b in zip(original, out) if a != b]
    assert len(changed) == 1
    assert changed[0][1] in SYNONYMS[changed[0][0]] or " " in changed[0][1]

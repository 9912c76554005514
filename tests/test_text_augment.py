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
    crop = word_crop(words, random.Random(3), 0.2)
    start = words.index(crop[0])
    assert crop == words[start:start + 16]  # contiguous window


def test_synonym_replacement_uses_the_table():
    aug = ApproximateText(p=1.0, fraction=0.2, operations=("synonym",))
    out = aug("woman jacket pants shoes bag", random.Random(1)).split()
    original = "woman jacket pants shoes bag".split()
    changed = [(a, b) for a, b in zip(original, out) if a != b]
    assert len(changed) == 1
    assert changed[0][1] in SYNONYMS[changed[0][0]] or " " in changed[0][1]

import random
import re

import numpy as np
import pytest
from PIL import Image

from personsearch.data.records import CaptionRecord
from personsearch.text.proximity.caption_edit import colour_phrases, first_colour_phrase
from personsearch.text.proximity.editors import build_proximity_editor, edit_captions, list_proximity_editors
from personsearch.text.proximity.lexicon import COLOURS
from personsearch.text.proximity.recolor import region_box


def _colour_words(text):
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w in COLOURS]


def test_colour_phrase_parsing():
    phrases = colour_phrases("A woman wearing a red long-sleeved jacket and blue jeans, white. shoes")
    assert [(p.colour, p.garment, p.region) for p in phrases] == [("red", "jacket", "upper"), ("blue", "jeans", "lower")]
    assert first_colour_phrase("a man in black") is None


def test_edit_captions_changes_one_colour_word_and_drops_contradicting_captions():
    captions = ("A man in a red shirt and red shoes.", "He has a red shirt.", "The man wears a green top.", "Short hair.")
    out = edit_captions(captions, region="upper", old_colour="red", new_colour="blue")
    assert out == ("A man in a blue shirt and red shoes.", "He has a blue shirt.", "Short hair.")


def _person_crop(tmp_path):
    # Grey background, a red torso block, blue legs: a crude person crop.
    img = np.full((120, 48, 3), 120, np.uint8)
    img[25:60, 10:38] = (200, 20, 20)
    img[60:105, 14:34] = (20, 30, 190)
    path = tmp_path / "p.png"
    Image.fromarray(img).save(path)
    return path, img


def test_recolor_editor_changes_pixels_only_in_the_garment_region_and_one_colour_word(tmp_path):
    path, original = _person_crop(tmp_path)
    record = CaptionRecord(image_path=str(path), pid=0, split="train",
                           captions=("A man in a red shirt and blue pants.", "The man has a red shirt on."))
    editor = build_proximity_editor("recolor", root=tmp_path)
    pair = editor.edit(record, random.Random(0))
    assert pair is not None and pair.old_value == "red" and pair.new_value != "red"
    edited = np.asarray(pair.image)
    changed = np.any(edited != original, axis=2)
    x1, y1, x2, y2 = region_box((48, 120), "upper")
    assert changed.sum() > 0.5 * 35 * 28  # most of the red torso
    outside = changed.copy()
    outside[y1:y2, x1:x2] = False
    assert not outside.any()
    assert not changed[~(np.asarray(original) == (200, 20, 20)).all(axis=2)].any()  # only red pixels moved
    for old, new in zip(record.captions, pair.captions):
        diff = [(a, b) for a, b in zip(_colour_words(old), _colour_words(new)) if a != b]
        assert diff == [("red", pair.new_value)]
        assert len(old.split()) == len(new.split())


def test_recolor_editor_skips_images_without_the_colour(tmp_path):
    path, _ = _person_crop(tmp_path)
    record = CaptionRecord(image_path=str(path), pid=0, split="train", captions=("a man in a yellow shirt",))
    assert build_proximity_editor("recolor", root=tmp_path).edit(record, random.Random(0)) is None


def test_synthetic_editor_changes_exactly_one_attribute(tmp_path):
    from personsearch.data.catalog import load_dataset, write_dataset
    from personsearch.data.synth.world import SynthWorld

    assert list_proximity_editors() == ["recolor", "synthetic"]
    world = SynthWorld(size="tiny", seed=0)
    write_dataset("cuhk-pedes", world, tmp_path / "d", workers=1, show_progress=False)
    data = load_dataset("cuhk-pedes", tmp_path / "d")
    editor = build_proximity_editor("synthetic", root=tmp_path / "d")
    for record in data.train[:3]:
        index = editor.crop_index(record)
        pair = editor.edit(record, random.Random(1))
        before = world.editable_attributes(index)
        assert pair.attribute in before and pair.old_value == before[pair.attribute] != pair.new_value
        original = world.crop(index)
        assert np.any(np.asarray(pair.image) != np.asarray(original.image))
        assert pair.image.size == original.image.size
        for old, new in zip(original.captions, pair.captions):
            words_old, words_new = _colour_words(old), _colour_words(new)
            assert words_old != words_new
            assert {w for w in words_new if w not in words_old} <= {pair.new_value}


def test_synthetic_editor_needs_a_world_sidecar(tmp_path):
    with pytest.raises(FileNotFoundError, match="recolor"):
        build_proximity_editor("synthetic", root=tmp_path)

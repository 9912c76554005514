import pytest
import torch

from personsearch.text.image_encoders import (
    build_image_encoder,
    list_image_encoders,
    load_vit_weights,
    patch_grid,
    resize_pos_embed,
)
from personsearch.text.model import build_dual_encoder
from personsearch.text.text_encoders import build_text_encoder, list_text_encoders
from personsearch.text.tokenizer import TextTokenizer, offline_model_folder


def test_registries_list_and_name_choices():
    assert list_image_encoders() == ["mobilenet-v2", "vit-b16-overlap", "vit-small-overlap"]
    assert list_text_encoders() == ["bert-base", "minilm-l6", "small-transformer"]
    with pytest.raises(KeyError, match="vit-b16-overlap"):
        build_image_encoder("resnet")


def test_overlapping_patch_grid_of_ctlg():
    assert patch_grid((384, 128), 16, 12) == (31, 10)
    vit = build_image_encoder("vit-small-overlap", image_size=(384, 128), dim=24, depth=1, heads=2)
    assert vit.pos_embed.shape == (1, 1 + 31 * 10, 24)
    assert vit(torch.randn(1, 3, 384, 128)).shape == (1, 24)


def test_square_imagenet_position_embeddings_are_resized_bilinearly(tmp_path):
    vit = build_image_encoder("vit-small-overlap", image_size=(64, 40), dim=8, depth=1, heads=2)
    assert vit.grid == (5, 3)
    state = {k: v.clone() for k, v in vit.state_dict().items()}
    # A 14x14 grid whose values are the row index: after resizing, rows must still increase.
    rows = torch.arange(14.0).repeat_interleave(14)
    state["pos_embed"] = torch.cat([torch.full((1, 1), -1.0), rows[None]], dim=1)[..., None].repeat(1, 1, 8)
    torch.save(state, tmp_path / "w.pt")
    load_vit_weights(vit, str(tmp_path / "w.pt"))
    pe = vit.pos_embed[0, 1:, 0].reshape(5, 3)
    assert vit.pos_embed[0, 0, 0].item() == -1.0
    assert torch.all(pe[1:] > pe[:-1]) and torch.allclose(pe[:, 0], pe[:, 2])
    assert resize_pos_embed(state["pos_embed"], (5, 3)).shape == (1, 16, 8)


@pytest.mark.slow
def test_offline_minilm_matches_the_reference_implementation():
    from transformers import AutoModel

    tok = TextTokenizer(max_length=24)
    ids, mask = tok(["a woman in a red coat and black pants", "a man with a blue backpack"])
    ours = build_text_encoder("minilm-l6", pooling="cls").eval()
    ref = AutoModel.from_pretrained(str(offline_model_folder())).eval()
    with torch.no_grad():
        got = ours(ids, mask)
        want = ref(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]
    assert torch.allclose(got, want, atol=1e-4)


def test_mean_pooling_ignores_padding():
    enc = build_text_encoder("small-transformer", hidden=16, layers=1, heads=2).eval()
    tok = TextTokenizer(max_length=12)
    short_ids, short_mask = tok(["red coat"])
    long_ids, long_mask = TextTokenizer(max_length=20)(["red coat"])
    with torch.no_grad():
        assert torch.allclose(enc(short_ids, short_mask), enc(long_ids, long_mask), atol=1e-5)


def test_dual_encoder_encodes_images_and_texts_separately_to_unit_vectors():
    model = build_dual_encoder(
        image_encoder={"name": "mobilenet-v2", "weights": "offline"},
        text_encoder={"name": "small-transformer", "hidden": 32, "layers": 1, "heads": 2},
        embed_dim=16, image_size=(64, 32), max_length=16,
    ).eval()
    with torch.no_grad():
        img = model.encode_image(torch.randn(3, 3, 64, 32))
        txt = model.encode_captions(["a man in a red shirt", "a woman"])
    assert img.shape == (3, 16) and txt.shape == (2, 16)
    assert torch.allclose(img.norm(dim=1), torch.ones(3)) and torch.allclose(txt.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="embed_dim"):
        build_dual_encoder(image_encoder={"name": "mobilenet-v2", "weights": None},
                           text_encoder={"name": "small-transformer"})


def test_tokenizer_gives_bert_base_uncased_ids():
    tok = TextTokenizer(max_length=10)
    ids, mask = tok(["A Woman in a RED coat"])
    # bert-base-uncased: [CLS] a woman in a red coat [SEP] [PAD] [PAD]
    assert ids[0].tolist() == [101, 1037, 2450, 1999, 1037, 2417, 5435, 102, 0, 0]
    assert mask[0].tolist() == [1] * 8 + [0, 0]
    assert tok.vocab_size == 30522 and tok.tokens("backpacks") == ["backpack", "##s"]


def test_tokenizer_pads_truncates_and_rejects_a_bare_string():
    tok = TextTokenizer(max_length=8)
    ids, mask = tok(["a " * 30, "hi"])
    assert ids.shape == (2, 8) and mask[0].sum() == 8 and mask[1].sum() == 3  # [CLS] hi [SEP]
    with pytest.raises(TypeError):
        tok("a caption")

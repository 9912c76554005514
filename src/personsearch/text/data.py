"""Datasets of image-caption pairs for training and of images / captions for evaluation.

Training randomness (crop, flip, approximate text, pixel/caption mixup) is drawn from a
per-item generator seeded by (seed, epoch, index): a run resumed at an epoch repeats the
uninterrupted run exactly, whatever the number of loader workers.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import functional as TF

from personsearch.data.records import CaptionRecord
from personsearch.models.weights import IMAGENET_MEAN, IMAGENET_STD
from personsearch.text.augment import ApproximateText
from personsearch.text.mixup import pixel_caption_mixup
from personsearch.text.tokenizer import TextTokenizer


def load_image(path: str, size: tuple[int, int]) -> Image.Image:
    """RGB image resized to (height, width) with bicubic interpolation, as CTLG's transforms."""
    with Image.open(path) as image:
        return image.convert("RGB").resize((size[1], size[0]), Image.BICUBIC)


def to_tensor(image: Image.Image) -> torch.Tensor:
    return TF.normalize(TF.to_tensor(image), IMAGENET_MEAN, IMAGENET_STD)


def train_view(image: Image.Image, rng: random.Random, *, pad: int, flip: bool) -> Image.Image:
    """CTLG's augmentation on a resized image: pad, random crop back to size, horizontal flip."""
    w, h = image.size
    if pad > 0:
        canvas = Image.new("RGB", (w + 2 * pad, h + 2 * pad))
        canvas.paste(image, (pad, pad))
        x, y = rng.randint(0, 2 * pad), rng.randint(0, 2 * pad)
        image = canvas.crop((x, y, x + w, y + h))
    if flip and rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return image


class CaptionPairDataset(Dataset):
    """One item per (image, caption) pair of the training records.

    Item: (image tensor, {"token_ids", "attention_mask", "pids" (2,), "pid_weights" (2,)}); a
    pixel/caption-mixed item carries both identities with weight 0.5 each.
    """

    def __init__(
        self,
        *,
        records: list[CaptionRecord],
        tokenizer: TextTokenizer,
        image_size: tuple[int, int],
        seed: int = 0,
        pad: int = 10,
        flip: bool = True,
        approximate_text: ApproximateText | None = None,
        pixel_mixup_p: float = 0.0,
    ) -> None:
        if not records:
            raise ValueError("no training records")
        self.records = list(records)
        self.pairs = [(r, c) for r, rec in enumerate(self.records) for c in range(len(rec.captions))]
        self.tokenizer = tokenizer
        self.image_size = tuple(int(v) for v in image_size)
        self.seed = int(seed)
        self.pad = int(pad)
        self.flip = bool(flip)
        self.approximate_text = approximate_text
        self.pixel_mixup_p = float(pixel_mixup_p)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.pairs)

    def _view(self, pair_index: int, rng: random.Random) -> tuple[torch.Tensor, str, int]:
        r, c = self.pairs[pair_index]
        record = self.records[r]
        image = train_view(load_image(record.image_path, self.image_size), rng, pad=self.pad, flip=self.flip)
        caption = record.captions[c]
        if self.approximate_text is not None:
            caption = self.approximate_text(caption, rng)
        return to_tensor(image), caption, record.pid

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = random.Random(f"{self.seed}:{self.epoch}:{index}")
        image, caption, pid = self._view(index, rng)
        pids, weights = [pid, pid], [1.0, 0.0]
        if self.pixel_mixup_p > 0 and rng.random() < self.pixel_mixup_p:
            other_image, other_caption, other_pid = self._view(rng.randrange(len(self.pairs)), rng)
            image, caption = pixel_caption_mixup(image, caption, other_image, other_caption)
            pids, weights = [pid, other_pid], [0.5, 0.5]
        ids, mask = self.tokenizer([caption])
        return image, {
            "token_ids": ids[0],
            "attention_mask": mask[0],
            "pids": torch.tensor(pids, dtype=torch.long),
            "pid_weights": torch.tensor(weights, dtype=torch.float32),
        }


def collate_pairs(batch: list[tuple[torch.Tensor, dict[str, Any]]]) -> tuple[list[torch.Tensor], list[dict]]:
    return [item[0] for item in batch], [item[1] for item in batch]


class ImageDataset(Dataset):
    """Evaluation / gallery images, resized and normalised."""

    def __init__(self, *, paths: list[str], image_size: tuple[int, int]) -> None:
        self.paths = list(paths)
        self.image_size = tuple(int(v) for v in image_size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return to_tensor(load_image(self.paths[index], self.image_size))

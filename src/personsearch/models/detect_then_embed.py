"""A separate person detector in front of a one-step model's re-ID head.

The one-step model embeds whatever boxes the detector returns (its query path: RoIAlign,
re-ID head, NAE), so galleries can be indexed with a detector that suits the footage, e.g.
the SSDLite person detector trained on real photographs, while identities are compared in
the search model's embedding space. Same call signature and outputs as the search model.
With `person_height`, each picture is embedded at the scale that makes its detected people (a
query: its box) that tall (`personsearch.models.person_scale`).
"""

from __future__ import annotations

import torch
from torch import nn

from personsearch.models.person_scale import embed_at_person_scale


class DetectThenEmbed(nn.Module):
    def __init__(self, *, detector: nn.Module, search_model: nn.Module, person_height: float | None = None) -> None:
        super().__init__()
        if person_height is not None and person_height <= 0:
            raise ValueError(f"person_height must be positive, got {person_height}")
        self.detector = detector
        self.search_model = search_model
        self.person_height = person_height

    @torch.inference_mode()
    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        detections = self.detector(images)
        boxes = [d["boxes"].to(torch.float32) for d in detections]
        counts = [len(b) for b in boxes]
        if sum(counts) == 0:
            dim = getattr(self.search_model, "embedding_dim", None) or self.search_model.roi_heads.embedding_head.dim
            embeddings = images[0].new_zeros((0, dim))
        else:
            embeddings = self.extract_query_features(images, boxes)
        return [
            {"boxes": b, "scores": d["scores"], "embeddings": e}
            for b, d, e in zip(boxes, detections, embeddings.split(counts), strict=True)
        ]

    def extract_query_features(self, images: list[torch.Tensor], boxes_list: list[torch.Tensor]) -> torch.Tensor:
        """Query boxes are given, so they skip the detector."""
        if self.person_height is None:
            return self.search_model.extract_query_features(images, boxes_list)
        return embed_at_person_scale(self.search_model, images, boxes_list, self.person_height)

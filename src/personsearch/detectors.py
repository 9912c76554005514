"""Names of the person detectors and re-ID embedders a gallery can be indexed with (no heavy imports:
the CLI reads them)."""

OWN_DETECTOR = "model"  # the search model's own detections
SSDLITE = "ssdlite"  # the offline SSDLite person detector (personsearch.models.ssdlite_person)
DETECTORS = (OWN_DETECTOR, SSDLITE)

OWN_REID = "model"  # the search model's re-ID head
IMAGENET_REID = "imagenet"  # ImageNet MobileNetV2 pooled features, no person training (personsearch.baselines.imagenet)
FUSED_REID = "model+imagenet"  # both, similarities averaged (personsearch.models.fused_embedding)
REID_MODELS = (OWN_REID, IMAGENET_REID, FUSED_REID)

# The model shipped in the package learned people from the synthetic world only. On real pictures
# its own detector misses people, so without a checkpoint of the user's own, people are found by
# SSDLite and compared by this re-ID (the best on the project's real footage set: BENCHMARKS.md,
# real-footage; docs/real_set.md).
SHIPPED_REID = FUSED_REID


def resolve_pipeline(*, shipped: bool, detector: str | None, reid: str | None, pytorch: bool) -> tuple[str, str]:
    """(detector, reid) with the defaults filled in. `shipped`: the package's own model is used (no
    checkpoint given); `pytorch`: the models run in PyTorch (the averaged re-ID needs it)."""
    if reid is None:
        reid = SHIPPED_REID if shipped and (pytorch or SHIPPED_REID == OWN_REID) else OWN_REID
    if detector is None:
        detector = SSDLITE if shipped or reid != OWN_REID else OWN_DETECTOR
    return detector, reid

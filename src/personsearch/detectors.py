"""Names of the person detectors and re-ID embedders a gallery can be indexed with (no heavy imports:
the CLI reads them)."""

OWN_DETECTOR = "model"  # the search model's own detections
SSDLITE = "ssdlite"  # the offline SSDLite person detector (personsearch.models.ssdlite_person)
DETECTORS = (OWN_DETECTOR, SSDLITE)

OWN_REID = "model"  # the search model's re-ID head
IMAGENET_REID = "imagenet"  # ImageNet MobileNetV2 pooled features, no person training (personsearch.baselines.imagenet)
FUSED_REID = "model+imagenet"  # both, similarities averaged (personsearch.models.fused_embedding)
REID_MODELS = (OWN_REID, IMAGENET_REID, FUSED_REID)

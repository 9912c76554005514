"""Names of the person detectors a gallery can be indexed with (no heavy imports: the CLI reads them)."""

OWN_DETECTOR = "model"  # the search model's own detections
SSDLITE = "ssdlite"  # the offline SSDLite person detector (personsearch.models.ssdlite_person)
DETECTORS = (OWN_DETECTOR, SSDLITE)

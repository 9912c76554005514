"""One-step person search models, their backbones, weights and losses."""

from .backbones import BackboneParts, build_backbone, list_backbones
from .losses import OIMLoss
from .search_model import build_search_model, list_models, load_search_model
from .seqnet import SeqNet
from .detect_then_embed import DetectThenEmbed
from .ssdlite_person import SSDLitePersonDetector, load_ssdlite_person_detector
from .weights import OfflineWeights, get_offline_weights, list_offline_weights

__all__ = [
    "BackboneParts",
    "DetectThenEmbed",
    "OIMLoss",
    "OfflineWeights",
    "SSDLitePersonDetector",
    "SeqNet",
    "build_backbone",
    "build_search_model",
    "get_offline_weights",
    "list_backbones",
    "list_models",
    "list_offline_weights",
    "load_search_model",
    "load_ssdlite_person_detector",
]

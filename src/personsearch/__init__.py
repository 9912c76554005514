"""personsearch: one-step, weakly supervised, pre-trained and text-based person search."""

__version__ = "0.1.0"

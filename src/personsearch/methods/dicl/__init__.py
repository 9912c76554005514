"""DICL: weakly supervised one-step person search (boxes, no identities) on the shared SeqNet model."""

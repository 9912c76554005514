"""Text-based person search (CTLG): dual encoder, losses, proximity data, training, evaluation, search."""

"""Proximity data generation: new image-caption pairs that differ from a real pair in exactly
one garment colour, written offline as a CUHK-PEDES-format dataset."""

"""Hand-crafted baselines that give learned models a scale to be measured against."""

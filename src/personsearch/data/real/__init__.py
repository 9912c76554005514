"""Real pictures annotated by eye, shipped as annotations only (the pictures are fetched by script)."""

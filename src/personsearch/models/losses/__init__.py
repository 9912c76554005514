from .oim import OIMLoss

__all__ = ["OIMLoss"]

"""The version of initlint, in one place (read by hatchling and by the cache key)."""

__version__ = "0.1.0"

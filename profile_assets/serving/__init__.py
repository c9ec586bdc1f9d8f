"""Serving layer: the published profile snapshot, lookups, email templates and the HTTP API."""

from profile_assets.serving.lookup import lookup

__all__ = ["lookup"]

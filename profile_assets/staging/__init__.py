"""Staging layer: raw extracts checked against `schemas/`, normalized, validated."""

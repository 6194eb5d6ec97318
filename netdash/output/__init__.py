"""Renderings of an assessment: text, JSON and Prometheus; the column declaration."""

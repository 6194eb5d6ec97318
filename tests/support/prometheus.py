"""Reading netdash's Prometheus text with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def parse(text: str) -> dict[str, list[Sample]]:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for family in families.values():
        assert family.type == "gauge", family.name
        assert family.documentation
    return {name: list(f.samples) for name, f in families.items()}


def one(samples: list[Sample], **labels: str) -> float:
    found = [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (labels, samples)
    return found[0]

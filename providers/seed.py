"""The provider rows shipped with the package (``providers/data/providers.json``)."""

from __future__ import annotations

import json
from importlib import resources

from pydantic import ValidationError

from providers.models import ProviderCreate

__all__ = ["SEED_FILE", "load_seed"]

SEED_FILE = "providers.json"


def load_seed() -> list[ProviderCreate]:
    """Every seed row, validated; a bad row raises ``ValueError`` naming its index and slug."""
    text = resources.files("providers").joinpath("data", SEED_FILE).read_text(encoding="utf-8")
    rows = json.loads(text)
    out: list[ProviderCreate] = []
    for i, row in enumerate(rows):
        try:
            out.append(ProviderCreate.model_validate(row))
        except ValidationError as exc:
            slug = row.get("slug") if isinstance(row, dict) else None
            raise ValueError(f"{SEED_FILE} row {i} ({slug}): {exc}") from exc
    return out

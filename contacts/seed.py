"""The fictional demonstration contacts shipped with the package
(``contacts/data/demo_contacts.json``). Real 24/7 contacts are restricted: see
``contacts/data/README.md`` for importing them."""

from __future__ import annotations

import json
from importlib import resources

from pydantic import ValidationError

from contacts.models import ContactCreate

__all__ = ["SEED_FILE", "load_seed"]

SEED_FILE = "demo_contacts.json"


def load_seed() -> list[ContactCreate]:
    """Every demo row, validated; a bad row raises ``ValueError`` naming its index."""
    text = resources.files("contacts").joinpath("data", SEED_FILE).read_text(encoding="utf-8")
    rows = json.loads(text)
    out: list[ContactCreate] = []
    for i, row in enumerate(rows):
        try:
            out.append(ContactCreate.model_validate(row))
        except ValidationError as exc:
            raise ValueError(f"{SEED_FILE} row {i}: {exc}") from exc
    return out

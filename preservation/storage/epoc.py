"""Tables of the European Preservation Order (EPOC-PR): the order beside its request, and the
judicial authority a prosecutor-role user acts as (migration 0010_epoc_pr)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from preservation.storage.models import json_column, utc_column


class EpocOrder(SQLModel, table=True):
    """What an EPOC-PR adds to its preservation request: who issued or validated it (a snapshot
    of their details at that moment, as the certificate prints them), the Section B and E facts
    the judicial authority confirmed, the transmission through the national IT system, Annexes V
    and VI, and the notices that came back (requests/epoc.py)."""

    __tablename__ = "epoc_order"
    __table_args__ = (UniqueConstraint("request_id", name="uq_epoc_order_request"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="preservation_request.id")
    #: "issuing": the judge or prosecutor issued it; "validating": the unit issued it and the judge
    #: or prosecutor validated it (Art. 3(2): "issued or validated by a judicial authority").
    capacity: str = Field(default="issuing", max_length=20)
    #: Section B: issued in an emergency case.
    emergency: bool = False
    #: Section E: "criminal_proceedings" or "custodial_sentence".
    purpose: str = Field(default="criminal_proceedings", max_length=30)
    #: Section E: the statutory provisions of the offence, as the judicial authority gives them.
    statutory_provisions: str = Field(
        default="", sa_column=Column(Text, nullable=False, default="")
    )
    #: Section F / G: {"type", "name", "representative", "post_held", "file_reference", "address",
    #: "phone", "email", "languages"} as they stood when the order was issued or validated.
    issuing_authority: dict[str, Any] | None = json_column()
    #: Section B: the addressee as it was when the order was issued: {"name", "address",
    #: "country", "email", "provider", "provider_name"}.
    addressee: dict[str, Any] | None = json_column()
    validating_authority: dict[str, Any] | None = json_column()
    validated_by: int | None = Field(default=None, foreign_key="app_user.id")
    validated_actor: str = Field(default="", max_length=200)
    validated_at: datetime | None = utc_column()
    #: When the national IT system transmitted it, and that system's own reference.
    transmitted_at: datetime | None = utc_column()
    national_reference: str = Field(
        default="", sa_column=Column(String(200), nullable=False, default="")
    )
    #: Annex V: {"issued_at", "production_reference", "production_issued_on", "by"}.
    annex_v: dict[str, Any] | None = json_column()
    #: Annex VI: {"issued_at", "reason", "by", "new_expiry"}.
    annex_vi: dict[str, Any] | None = json_column()
    #: The end-of-preservation notice (Art. 11(3)) drafted when the request was closed:
    #: {"at", "kind": "EndPreservation" | "Withdraw", "outcome", "by"}.
    end_notice: dict[str, Any] | None = json_column()
    #: What came back through the national IT system, in ETSI TS 104 144 names:
    #: [{"type", "at", "recorded_at", "by", "reason", "details", "respond_by", ...}].
    notices: list[dict[str, Any]] = json_column([])
    created_at: datetime | None = utc_column(nullable=False)
    updated_at: datetime | None = utc_column(nullable=False)


class JudicialAuthority(SQLModel, table=True):
    """The judicial authority a user of the prosecutor role acts as: printed in Sections A, F and
    G of the certificates that user issues or validates (access/judicial.py)."""

    __tablename__ = "judicial_authority"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    #: domain/epoc.py AUTHORITY_TYPES: judge, court, investigating_judge, public_prosecutor.
    authority_type: str = Field(default="", max_length=30)
    name: str = Field(default="", max_length=300)
    representative: str = Field(default="", max_length=200)
    post_held: str = Field(default="", max_length=200)
    address: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=320)
    #: ISO 639-1 codes of the languages the authority can be addressed in.
    languages: list[str] = json_column([])
    updated_at: datetime | None = utc_column(nullable=False)

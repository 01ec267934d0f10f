"""The standard exception codes a waiver may give, mixed into `serving.settings.ServiceSettings`.

CBP's lesson (GAO-15-294): waivers written as free text alone could not be counted or
compared, so a waiver names a standard exception (a code from a short list each deployment
configures) or, with the code ``OTHER``, a written reason. ``SHIPRISK_WAIVER_CODES`` replaces
the list, as JSON: ``[{"code": "AEO", "label": "AEO-trusted trader"}, ...]``; ``OTHER`` is
always offered.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings

OTHER = "OTHER"  # the code whose waiver must say why in words
CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,39}$"
MAX_REASON_CHARS = 1000


class WaiverCode(BaseModel):
    """One standard exception: a short code stored with the waiver, and what it means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE_PATTERN, description="stored with the waiver, e.g. AEO")
    label: str = Field(min_length=1, max_length=200, description="what the code means")


DEFAULT_WAIVER_CODES: tuple[WaiverCode, ...] = (
    WaiverCode(code="AEO", label="AEO-trusted trader"),
    WaiverCode(code="INSPECTED_ELSEWHERE", label="Already inspected at another office"),
    WaiverCode(code="DOCUMENTS_SUFFICE", label="Documentary check sufficient"),
    WaiverCode(code="PERISHABLE", label="Humanitarian or perishable goods"),
    WaiverCode(code=OTHER, label="Other: reason written below"),
)


class WaiverSettings(BaseSettings):
    """Which standard exception codes a waiver may name."""

    waiver_codes: tuple[WaiverCode, ...] = Field(
        default=DEFAULT_WAIVER_CODES,
        min_length=1,
        max_length=50,
        description="standard exception codes of waivers, JSON list of {code, label}; OTHER "
        "(a written reason) is added when missing",
    )

    @field_validator("waiver_codes")
    @classmethod
    def _with_other(cls, codes: tuple[WaiverCode, ...]) -> tuple[WaiverCode, ...]:
        names = [code.code for code in codes]
        if len(set(names)) != len(names):
            raise ValueError("each waiver code may appear once")
        if OTHER not in names:
            codes = (*codes, WaiverCode(code=OTHER, label="Other: reason written below"))
        return codes

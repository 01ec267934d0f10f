"""What every room of serving/ shares, below all of them.

The app state (`ServiceState`) and the model it serves now (`current_model`, `LoadedModel`);
the caller (`Caller`, kept in the request scope under `CALLER` by the access middleware); the
request-scope slots the audit middleware reads; the header names and limits more than one
room uses; and the response shapes several rooms answer with (model reference, reason, error).

It imports no module of serving/ at run time (the state's field types only for the type
checker), so every room, the access middleware and the audit middleware can import it without
importing each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from features.descriptions import reason_text
from features.i18n import DEFAULT_LOCALE, negotiate

if TYPE_CHECKING:
    from models.bundle import ModelBundle
    from serving.access.keys import StoredKey
    from serving.audit.records import AuditLog
    from serving.inspections.service import OperationsPolicy
    from serving.metrics import ServiceMetrics
    from serving.model.holder import ModelHolder
    from serving.model.performance import PerformanceMonitor
    from serving.scoring.queue import ScoringQueue
    from serving.settings import ServiceSettings
    from serving.store.database import Store

MODEL_VERSION_HEADER = "X-Model-Version"  # name/version of the model that answered
JUSTIFICATION_HEADER = "X-Justification"  # why the caller consults (kept in the log)
CONTENT_LANGUAGE_HEADER = "Content-Language"  # the language of a translated answer's texts
MAX_JUSTIFICATION_CHARS = 500
# Items in any one list of a request (declarations to score, outcomes, ...): one cap for all.
MAX_REQUEST_ITEMS = 1000


def request_items(description: str) -> Any:
    """The pydantic field of a request's list: at least one item, at most MAX_REQUEST_ITEMS."""
    return Field(min_length=1, max_length=MAX_REQUEST_ITEMS, description=description)


# Request-scope slots (``scope["state"]``) shared by the middlewares and the routes.
CALLER = "shiprisk.caller"  # the authenticated `Caller`, set by the access middleware
REQUEST_WRITES = "shiprisk.request_writes"  # writes left to the record's commit
NAMED_IDS = "shiprisk.declaration_ids"  # ids a route says it consulted
QUERY_VALUES = "shiprisk.query_values"  # the single-valued query parameters a route read
UNREADABLE_URL = "shiprisk.unreadable_url"  # set when the path or query is not UTF-8 text
# The signed-in person of a page, set only by the pages' in-process API calls
# (`serving.web.page.ServiceCall`): no client can put it in a request's scope.
SIGNED_IN = "shiprisk.signed_in"


# -- the model being served --------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    """A verified bundle with the registry coordinates it was loaded from."""

    bundle: ModelBundle
    name: str
    version: str
    uri: str
    loaded_at: datetime

    @property
    def label(self) -> str:
        """``name/version``, as in the X-Model-Version header."""
        return f"{self.name}/{self.version}"


RiskBasis = Literal["all_declarations", "inspected_only"]
RISK_BASES: tuple[RiskBasis, ...] = ("all_declarations", "inspected_only")


def risk_basis(metadata: Mapping[str, Any]) -> RiskBasis:
    """What a bundle's risks are a rate of (its ``risk_basis`` metadata): ``all_declarations``
    when training corrected for selection bias, else ``inspected_only`` (also for bundles
    trained before the key existed, whose calibration never corrected)."""
    value = metadata.get("risk_basis")
    return next((basis for basis in RISK_BASES if basis == value), "inspected_only")


# -- the app state -----------------------------------------------------------------------------


@dataclass
class ServiceState:
    """What routes share, created per app by the factory (``app.state.service``)."""

    settings: ServiceSettings
    model_holder: ModelHolder
    metrics: ServiceMetrics
    scoring: ScoringQueue
    policy: OperationsPolicy
    audit_log: AuditLog  # appends consultation-log records, one after the other
    store: Store | None = None  # the operational store, opened by the lifespan
    store_error: str | None = "not opened yet"
    audit_error: str | None = None  # why the last consultation record failed, until one works
    performance: PerformanceMonitor | None = None  # hit-rate figures refreshed after outcomes


def current_model(state: ServiceState) -> LoadedModel:
    """The model to score with, taken once per request; 503 with the reason when there is none."""
    current = state.model_holder.current
    if current is None:
        raise HTTPException(
            status_code=503,
            detail=f"no model loaded ({state.model_holder.last_error}). Register a model, point "
            f"the alias at it, then POST /v1/admin/reload",
        )
    return current


# -- the caller --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """The person behind a request: a person signed in with an identity provider (its issuer
    and subject), or the owner a key is bound to (no issuer, no subject)."""

    name: str
    issuer: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class Caller:
    """The authenticated key (or a signed-in person's session, presented as a key with the
    session's role and remit) behind a request, the reason it gave, and the person."""

    key: StoredKey
    justification: str | None
    person: Person | None = None

    def covers_office(self, office_id: str | None) -> bool:
        """Whether the office is inside the key's remit (an unknown office is not)."""
        if self.key.offices is None:
            return True
        return office_id is not None and self.key.covers_office(office_id)


# -- text --------------------------------------------------------------------------------------


def is_text(value: str) -> bool:
    """Whether a string is valid Unicode text: no lone surrogate (``"\\ud800"``).

    JSON's ``\\u`` escapes (and Python's decoder of JSON bytes) let a lone surrogate into a
    `str`; it cannot be written as UTF-8, so it must never reach a store, a hash or a log.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- response shapes shared by the rooms -------------------------------------------------------


class ModelRef(BaseModel):
    """The registered model that produced a score."""

    name: str
    version: str


class ReasonOut(BaseModel):
    """Why a declaration scored as it did: a feature that raised one threat's risk, with its
    SHAP contribution (log-odds; ``kind`` model), a live watchlist hit (``kind``
    watchlist, with the source agency and handling code, never the provider's text), or a
    risk profile that matched (``kind`` profile: its id, title and rationale; ``value`` 1
    when its action selected the declaration, 0 when a share was not drawn)."""

    threat: str
    feature: str
    value: float | None
    contribution: float
    text: str
    kind: Literal["model", "watchlist", "profile"] = "model"
    source_agency: str | None = None
    handling_code: str | None = None
    profile_id: str | None = None
    title: str | None = None
    rationale: str | None = None


def reasons_in_language(
    reasons: Sequence[ReasonOut], declaration: Mapping[str, Any], locale: str
) -> list[ReasonOut]:
    """The same reasons with their ``text`` in ``locale``, written again from their machine
    fields (``feature``, ``value``) and the declaration they explain.

    Reasons are scored and stored in English; a request asking for another language
    (``Accept-Language``, `features.i18n.negotiate`) gets them written again at read time,
    so the stored record stays what was served and every locale reads the same facts.
    """
    if locale == DEFAULT_LOCALE:
        return list(reasons)
    return [
        reason
        if reason.kind == "profile"  # a risk manager's words, kept as written
        else reason.model_copy(
            update={
                "text": reason_text(
                    reason.feature,
                    math.nan if reason.value is None else reason.value,
                    declaration,
                    locale,
                )
            }
        )
        for reason in reasons
    ]


def request_locale(headers: Mapping[str, str]) -> str:
    """The shipped locale a request's ``Accept-Language`` asks for (English without one)."""
    return negotiate(headers.get("accept-language"))


class ErrorItem(BaseModel):
    """One problem with a request: where (field path), what was expected, and how to fix it."""

    loc: list[str | int]
    msg: str
    type: str
    fix: str | None = None


def error_path(location: Sequence[Any]) -> str:
    """A pydantic error location as the path a person reads: ``criteria.all.of[1].field``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


class ErrorResponse(BaseModel):
    """Error body; never contains submitted declaration values."""

    detail: list[ErrorItem] | str


# The documented answer of a route that needs the operational store (serving.deps.open_store).
STORE_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "operational store unavailable"}
}


def invalid_field(loc: Sequence[str | int], msg: str, kind: str) -> HTTPException:
    """422 for one field a route checks beyond its schema, shaped as pydantic's answers are
    (``kind`` is the error's ``type``)."""
    return HTTPException(status_code=422, detail=[{"loc": list(loc), "msg": msg, "type": kind}])


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An `ErrorResponse` body with one message, answered by a middleware (no route ran)."""
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)

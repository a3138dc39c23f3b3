"""Every seam where one package plugs into another, named in this one file.

A package that must react to another's event (insurance bills a signed outcome; imaging moves
a merged patient's studies) or add to another's page registers here in its ``init_app``; the
package that owns the event runs the seam and never imports its listeners. Each seam carries a
small frozen dataclass of facts, never another package's ORM object, so a listener depends on
the facts and not on the owner's tables. ``hub seams`` lists every seam with its listeners.

Listeners of the transactional seams (``document_signed``, ``imaging_report_signed``,
``patient_merged``) run inside the owner's transaction: what they write commits or rolls back
with it. A listener must not raise for its own failures (queue a retry in the outbox instead),
since that would undo the owner's change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

if TYPE_CHECKING:
    # Types only: the modules that run or fill these seams import this one.
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from hub.auth.principal import Principal
    from hub.documents.registry import DocumentKind

P = ParamSpec("P")
V = TypeVar("V")


class Seam(Generic[P]):
    """An ordered set of listeners, each registered once (``init_app`` may run more than once)."""

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.doc = doc
        self._listeners: list[Callable[P, Any]] = []

    def register(self, listener: Callable[P, Any]) -> Callable[P, Any]:
        """Add a listener (usable as a decorator); registering the same one again does nothing."""
        if listener not in self._listeners:
            self._listeners.append(listener)
        return listener

    def run(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every listener in registration order; a listener's exception propagates."""
        for listener in self._listeners:
            listener(*args, **kwargs)

    def __iter__(self) -> Iterator[Callable[P, Any]]:
        return iter(list(self._listeners))

    @property
    def listeners(self) -> list[str]:
        return [_qualname(fn) for fn in self._listeners]


class Registry(Generic[V]):
    """Values by key in registration order, each key given once (the same value may be
    registered again)."""

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.doc = doc
        self._values: dict[str, V] = {}

    def register(self, key: str, value: V) -> V:
        existing = self._values.get(key)
        if existing is not None and existing != value:
            raise ValueError(f"{self.name}: {key!r} is already registered differently")
        self._values[key] = value
        return value

    def get(self, key: str) -> V | None:
        return self._values.get(key)

    def items(self) -> list[tuple[str, V]]:
        return list(self._values.items())

    def values(self) -> list[V]:
        return list(self._values.values())

    @property
    def listeners(self) -> list[str]:
        return [f"{key}: {_qualname(value)}" for key, value in self.items()]


def _qualname(obj: object) -> str:
    target = getattr(obj, "context", obj)  # a page section names its context provider
    module = getattr(target, "__module__", type(target).__module__)
    name = getattr(target, "__qualname__", None) or getattr(obj, "code", None) or repr(obj)
    return f"{module}.{name}"


# --- facts the seams carry ------------------------------------------------------------------


@dataclass(frozen=True)
class SignedService:
    """A signed document that records a service to a patient (what billing needs to know)."""

    service_type: str  # the document kind's code, e.g. "consult_outcome", "imaging_report"
    service_id: int  # its subject: the consult's or the study's id
    document_id: str  # the signed document's public id
    patient_id: int | None  # None while a study is not matched to a patient
    facility_id: int | None  # the facility that performed the service
    service_at: datetime
    signer_user_id: int | None


@dataclass(frozen=True)
class PatientMerge:
    """Two records of one patient: the duplicate's records move to the survivor."""

    survivor_id: int
    duplicate_id: int


@dataclass(frozen=True)
class ConsultPage:
    """What a section of the consult page may know of the consult it is shown on."""

    consult_id: int
    patient_id: int
    national_id: str
    id_country: str


@dataclass(frozen=True)
class PageSection:
    """A part of the consult page another package supplies: its template, and the template's
    context for one consult (``{"shown": False}`` hides it)."""

    template: str
    context: Callable[[Session, Principal, ConsultPage], dict[str, Any]]


@dataclass(frozen=True)
class HomeRow:
    """One line of a home panel: what it is, where it opens, and when (an instant shown in the
    reader's zone, or a day such as a task's due date)."""

    text: str
    url: str | None = None
    time: datetime | None = None
    day: date | None = None
    detail: str | None = None  # a status or a short note, shown beside the text


@dataclass(frozen=True)
class HomePanel:
    """A list of the reader's own work that another package puts on their home page; texts are
    already translated for the request."""

    title: str
    rows: tuple[HomeRow, ...]
    empty: str  # what the panel says when there are no rows
    more_url: str | None = None  # the full list, when the panel shows only the first rows


@dataclass(frozen=True)
class CommandAlert:
    """Something that reached "the region's command staff are alerted": what, where, about what."""

    region_id: int
    kind: str  # e.g. "consult_unassigned", "consult_answer_overdue", "critical_result"
    subject_type: str  # "consult", "critical_result"
    subject_id: int
    raised_at: datetime
    detail: str | None = None  # an urgency or category: no patient data


@dataclass(frozen=True)
class Banner:
    """A notice at the top of every page the reader opens, until what it names is done (a
    critical result to acknowledge); texts are already translated for the request."""

    text: str
    url: str
    link_text: str


OutboxHandler = Callable[["Session", dict[str, Any]], None]
PatientGrant = Callable[["Principal"], "ColumnElement[bool] | None"]
DemoSeeder = Callable[["Session"], None]
# A home panel for this reader, or None when it is not theirs (a specialist has no requests).
HomePanelProvider = Callable[["Session", "Principal"], "HomePanel | None"]
# A banner for this reader on every page, or None; called on every page: one indexed query.
BannerProvider = Callable[["Session", "Principal"], "Banner | None"]


# --- the seams ------------------------------------------------------------------------------

document_signed: Seam[[Session, Principal, SignedService]] = Seam(
    "document_signed",
    "A consult document (outcome, e-prescription, referral letter) was signed, in its transaction.",
)
imaging_report_signed: Seam[[Session, Principal, SignedService]] = Seam(
    "imaging_report_signed",
    "A radiologist signed an imaging report, in the signing transaction.",
)
patient_merged: Seam[[Session, Principal, PatientMerge]] = Seam(
    "patient_merged",
    "A duplicate patient record was merged into another, in the merge transaction.",
)
consult_page_sections: Registry[PageSection] = Registry(
    "consult_page_sections",
    "Parts of the consult page other packages supply, by template, in order.",
)
patient_grants: Seam[[Principal]] = Seam(
    "patient_grants",
    "Extra patients a principal may see (a SQL condition on Patient, or None).",
)
demo_seeders: Seam[[Session]] = Seam(
    "demo_seeders",
    "Demo data a package adds after the core's organisation, accounts and patients.",
)
outbox_handlers: Registry[OutboxHandler] = Registry(
    "outbox_handlers",
    "The function that delivers the outbox messages of a topic, until it succeeds.",
)
document_kinds: Registry[DocumentKind] = Registry(
    "document_kinds",
    "The signable document kinds: template, signature slots, subject, retention.",
)
command_alerted: Seam[[Session, CommandAlert]] = Seam(
    "command_alerted",
    "An SLA breach or escalation reached the region's command staff, in the owner's transaction.",
)
home_panels: Registry[HomePanelProvider] = Registry(
    "home_panels",
    "Lists of the reader's own work on the home page (open requests, documents to countersign).",
)
page_banners: Registry[BannerProvider] = Registry(
    "page_banners",
    "Notices on every page the reader opens until they act (critical results to acknowledge).",
)

SEAMS: tuple[Seam[Any] | Registry[Any], ...] = (
    document_signed,
    imaging_report_signed,
    patient_merged,
    consult_page_sections,
    patient_grants,
    demo_seeders,
    outbox_handlers,
    document_kinds,
    home_panels,
    command_alerted,
    page_banners,
)


def describe() -> list[tuple[str, str, list[str]]]:
    """(name, what it is, its listeners) for every seam, for ``hub seams`` and the docs."""
    return [(seam.name, seam.doc, seam.listeners) for seam in SEAMS]

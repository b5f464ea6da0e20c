"""Every request and response model of the HTTP API, in one place (issue 20).

Routers import their models from here, never from another router, and the CLI's ``--json``
output uses the same models (through presenter.py for search answers), so a field means one
thing wherever it appears. The functions that fill these models from the engine's results
stay in presenter.py; the request models keep their own validation (a form's empty strings,
the fixed vocabulary, years in order).

Sections: search answers, projects and writes, health, submissions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_validator,
    model_validator,
)

from erfa.index import FACET_FIELDS, UpsertSummary
from erfa.index.engine import FACET_DEPTH
from erfa.index.moderation.submissions import CONSENT, Decision, Submission
from erfa.ingest import Record, vocab
from erfa.ingest.record import web_link
from erfa.service.api.errors import invalid, unprocessable


# -- search answers (filled by presenter.py) ----------------------------------------------
class Twin(BaseModel):
    id: str
    source: str
    title: str
    language: str | None
    link: str | None


class SearchResult(BaseModel):
    id: str
    title: str
    organisation: str | None
    country: str | None
    language: str | None
    owner_type: str | None = None
    sector: str | None = None
    sector_inferred: bool = Field(
        False,
        description="True when the source gave no sector and erfa inferred it from "
        "the project's nearest neighbours that have one (models.md).",
    )
    status: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    score: float = Field(description="Ranking score (dense and keyword rankings fused); higher ranks first.")
    similarity: float = Field(0.0, description="Cosine similarity of the need and the project's best-matching passage.")
    snippet: str = Field(description="The part of the description that best explains the match.")
    marks: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) character ranges of the query's words in the snippet."
    )
    link: str | None
    twins: list[Twin] = Field(
        default_factory=list,
        description="The same project as held by other sources (another "
        "registry, another language): shown once, under the record of the registry that keeps it "
        "best (its link, years and sector taken from any of them).",
    )
    close_match: bool | None = Field(
        None,
        description="This result is a close match: it does what the need describes, "
        "as far as erfa can tell (models.md, 'Close matches'); null when not judged.",
    )


class SearchResponse(BaseModel):
    query: str
    total: int = Field(description="How many ranked projects (after filters) can be paged through with offset.")
    close_match: bool | None = Field(
        None,
        description="False when no project stands out as a match for the need (see models.md); null when that "
        "cannot be told: an uncalibrated model, or too few projects (under 50 passages) to know what standing out "
        "means.",
    )
    results: list[SearchResult]
    matches: int | None = Field(
        None,
        description="How many of the first results (after filters) are close matches: the results whose "
        "close_match is true; null when close_match is null.",
    )
    facets: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description=f"Counts per value of {', '.join(FACET_FIELDS)} over the close matches, or over "
        f"the best {FACET_DEPTH} results when there are none (see facets_over); every value present in the registry is "
        "listed, with 0 when no counted project has it.",
    )
    facets_over: Literal["matches", "top"] = Field(
        "top", description=f"'matches': the facets count the close matches; 'top': the best {FACET_DEPTH} results."
    )


class SimilarResponse(BaseModel):
    id: str
    results: list[SearchResult]


class Contact(BaseModel):
    website: str | None = Field(None, description="The organisation's own web site, where the data gives one.")
    registry_id: str | None = Field(
        None, description="Organisation number in a public registry, where the data gives one."
    )
    contact: str | None = Field(
        None,
        description="A functional contact (a team mailbox or a role, never a person) its submitter agreed to publish.",
    )


class ReachOut(BaseModel):
    kind: Literal["website", "project_link"] = Field(
        description="'website': the organisation's own web site; 'project_link': none is known, so the page of one of "
        "its projects (or of that project's twin in another registry)."
    )
    url: str
    source: str = Field(
        description="Where it comes from: 'record' (one of these projects gives the organisation's site), "
        "'body_record' (another project of the same body does), 'wikidata' or 'enhetsregisteret' (the "
        "directory `erfa sync` fills from those public registers), 'project_root' (a project link that is "
        "a site's root), 'project' or 'twin' (the page of one of these projects, or of its twin in "
        "another registry), 'body_project' (the page of another project of the same body)."
    )
    confidence: float | None = Field(
        None,
        description="For 'wikidata' and 'enhetsregisteret': how surely the register's "
        "entity is this body (1.0 registry number, 0.95 its name, 0.85 a name it also goes "
        "by; nothing below 0.8 is ever stored or shown). null for what the data itself says.",
    )
    matched: str | None = Field(
        None, description="The name the register matched, for 'wikidata' and 'enhetsregisteret'."
    )
    project_id: str | None = Field(None, description="For a project link: the project whose page it is.")


class ReasonOut(BaseModel):
    projects: int = Field(description="The organisation's projects among the results that count as experience.")
    statuses: dict[str, int] = Field(description="How many of them have each status ('' = not given).")
    closest_id: str = Field(description="Its best-ranked project.")
    closest_title: str
    close_match: bool | None = Field(
        None, description="Whether that project is a close match itself (null: not judged)."
    )
    text: str = Field(description="The same in one English line; the web page words it in the reader's language.")


class PartnerOut(BaseModel):
    organisation: str
    country: str | None
    owner_type: str | None
    score: float = Field(description="Relevant experience: matching projects weighed by relevance, status and recency.")
    projects: list[SearchResult]
    link: str | None
    contact: Contact
    reach: ReachOut | None = Field(
        None,
        description="How to reach the organisation: its web site, else a project page; "
        "with where it comes from and, for a register's match, how sure it is.",
    )
    reason: ReasonOut | None = Field(
        None, description="Why the organisation is on the list: its projects by status and its closest one."
    )


class PartnersResponse(BaseModel):
    query: str
    close_match: bool | None
    partners: list[PartnerOut]


# -- projects and writes ------------------------------------------------------------------
MAX_RECORDS_PER_REQUEST = 1000  # a bigger batch belongs in a file upload (POST /ingest)


class ProjectIn(BaseModel):
    """One project in erfa's own format (docs/ingest-formats.md). `id` is derived, never read."""

    model_config = ConfigDict(extra="forbid")

    source: Annotated[
        str | None, Field(max_length=32, description="Who publishes it, e.g. 'oslo-kommune'; or pass ?source=")
    ] = None
    source_id: Annotated[str | int | None, Field(description="The publisher's own id for the project (required)")] = (
        None
    )
    title: Annotated[str | None, Field(max_length=500, description="Required")] = None
    description: Annotated[str | None, Field(max_length=20_000)] = None
    purpose: Annotated[str | None, Field(max_length=20_000)] = None
    organisation: Annotated[str | None, Field(max_length=500)] = None
    owner_type: Annotated[str | None, Field(max_length=100)] = None
    partners: Annotated[list[Annotated[str, Field(max_length=500)]] | str | None, Field(max_length=200)] = None
    country: Annotated[str | None, Field(max_length=60)] = None
    region: Annotated[str | None, Field(max_length=200)] = None
    municipality: Annotated[str | None, Field(max_length=200)] = None
    sector: Annotated[str | None, Field(max_length=100)] = None
    status: Annotated[str | None, Field(max_length=100)] = None
    start_year: int | str | None = None
    end_year: int | str | None = None
    link: Annotated[str | None, Field(max_length=2000)] = None
    website: Annotated[str | None, Field(max_length=2000, description="The organisation's own web site")] = None
    contact: Annotated[
        str | None, Field(max_length=200, description="A functional contact (team mailbox or role), never a person")
    ] = None
    tags: Annotated[list[Annotated[str, Field(max_length=200)]] | str | None, Field(max_length=200)] = None
    language: Annotated[str | None, Field(max_length=3)] = None
    updated_at: Annotated[str | None, Field(max_length=40)] = None
    id: Annotated[
        str | None, Field(max_length=200, description="Ignored (erfa derives ids), so exports re-import unchanged")
    ] = None


class ProjectsIn(RootModel[list[ProjectIn]]):
    """A list of projects; a single object is accepted as a list of one."""

    root: Annotated[list[ProjectIn], Field(max_length=MAX_RECORDS_PER_REQUEST)]

    @model_validator(mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value


class Rejection(BaseModel):
    row: int = Field(description="1-based position in the request body, or the file's row as an editor shows it")
    reason: str


class WriteSummary(BaseModel):
    """What a write did: the index's `WriteSummary` counts (index/summary.py), field for field, and what
    only the HTTP answer carries (rejected rows, the generation to read your writes, the file's format)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: list[Rejection] = Field(default_factory=list)
    skipped: list[Rejection] = Field(
        default_factory=list,
        description="Rows of an uploaded file left out on purpose, with why (e.g. IPS-X's blockchain cases: not AI)",
    )
    ids: list[str] = Field(default_factory=list, description="Ids of the records added or updated")
    generation: int | None = Field(
        None,
        description=(
            "The store's generation once this write is searchable here; pass it as `min_generation` to read your writes"
        ),
    )
    format: str | None = None

    @classmethod
    def of(cls, summary: UpsertSummary, *, generation: int | None, **extra: Any) -> WriteSummary:
        """The answer to a write the index summed up as ``summary``."""
        return cls(
            added=summary.added,
            updated=summary.updated,
            unchanged=summary.unchanged,
            deleted=summary.deleted,
            ids=summary.ids,
            generation=generation,
            **extra,
        )


class DeleteResponse(BaseModel):
    deleted: str
    generation: int | None = Field(None, description="Pass it as `min_generation` to read your writes")


# -- health ----------------------------------------------------------------------------------
class Status(BaseModel):
    status: str
    projects: int | None = None
    model: str | None = None
    generation: int | None = None
    detail: str | None = None
    quarantined: dict[str, str] | None = Field(
        default=None,
        description=(
            "Stored records search is serving without because erfa cannot index them, id -> why: correct or delete them"
        ),
    )


# -- submissions -----------------------------------------------------------------------------
def _blank(value: object) -> object:
    """Web forms send '' for a field left empty; that means 'not given', not an error."""
    return None if isinstance(value, str) and not value.strip() else value


Opt = BeforeValidator(_blank)


_Year = Annotated[int, Field(ge=1950, le=2100)]


# An http(s) address; one typed without a scheme ("fjordvik.kommune.no/ki") is completed to
# https:// rather than refused (issue 12), and the completed form is what the receipt shows.
_Link = Annotated[str, Field(max_length=2000), AfterValidator(web_link)]


STATUS_PAGE = "/submit/status/"  # + the token: the submitter's private status page (service/pages/web.py)


# Strings of at most n characters (the constraint sits inside the Optional, so None passes); spelled out,
# since a type a function returns is one a type checker cannot read.
_Text60 = Annotated[str, Field(max_length=60)]
_Text100 = Annotated[str, Field(max_length=100)]
_Text200 = Annotated[str, Field(max_length=200)]
_Text5000 = Annotated[str, Field(max_length=5000)]


# Fields whose words are normalised to erfa's fixed vocabulary, and the values it has.
_VOCABULARY: dict[str, tuple[Callable[[object], str | None], tuple[str, ...]]] = {
    "status": (vocab.normalise_status, vocab.STATUSES),
    "sector": (vocab.normalise_sector, vocab.SECTORS),
}


class SubmissionIn(BaseModel):
    """A project proposed by anyone; a moderator decides whether it is listed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[_Text5000 | None, Opt] = None
    purpose: Annotated[_Text5000 | None, Opt] = None
    organisation: Annotated[str, Field(min_length=1, max_length=300)]
    country: Annotated[_Text60 | None, Opt, Field(description="ISO code (NO, SE, DK, FI, IS) or a country name")] = None
    municipality: Annotated[_Text200 | None, Opt] = None
    sector: Annotated[_Text100 | None, Opt, Field(description=", ".join(vocab.SECTORS))] = None
    status: Annotated[_Text100 | None, Opt, Field(description=", ".join(vocab.STATUSES))] = None
    start_year: Annotated[_Year | None, Opt] = None
    end_year: Annotated[_Year | None, Opt] = None
    link: Annotated[
        _Link | None, Opt, Field(description="An http(s) URL about the project; https:// is added when missing")
    ] = None
    website: Annotated[
        _Link | None, Opt, Field(description="The organisation's own web site; https:// is added when missing")
    ] = None
    contact: Annotated[
        _Text200 | None,
        Opt,
        Field(
            description="A functional contact (a team mailbox or a role, not a person), "
            "published only with contact_consent"
        ),
    ] = None
    contact_consent: Annotated[bool, Field(description="True: the contact may be published with the project")] = False

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is not None and vocab.country_code(v) is None:
            raise ValueError(
                "country is not one erfa knows: use an ISO code such as NO, SE, DK, FI, IS or a country name"
            )
        return v

    @field_validator("status", "sector")
    @classmethod
    def _in_vocabulary(cls, v: str | None, info: ValidationInfo) -> str | None:
        normalise, allowed = _VOCABULARY[str(info.field_name)]
        if v is not None and normalise(v) is None:
            raise ValueError(f"{info.field_name} must be one of {', '.join(allowed)}")
        return v

    @field_validator("end_year")
    @classmethod
    def _after_start(cls, v: int | None, info: ValidationInfo) -> int | None:
        start = info.data.get("start_year")
        if v is not None and start is not None and v < start:
            raise ValueError(f"end_year must not be before start_year ({start})")
        return v


class SubmissionCreated(BaseModel):
    id: str
    status: Literal["pending"] = "pending"
    message: str
    status_url: str = Field(
        description="The submitter's private status page (keep it: it is shown only once); "
        "relative to this server unless the operator set ERFA_PUBLIC_URL"
    )
    status_token: str = Field(description="The secret in status_url, for GET /submissions/status/{token}")
    data: dict[str, Any] = Field(description="What was stored, after completion (e.g. https:// added to a link)")


class DecisionOut(BaseModel):
    at: str
    who: str
    action: Literal["submitted", "edited", "approved", "rejected"]
    detail: dict[str, Any]

    @classmethod
    def of(cls, d: Decision) -> DecisionOut:
        return cls(at=d.at.isoformat(), who=d.who, action=d.action, detail=d.detail)  # type: ignore[arg-type]


class SubmissionOut(BaseModel):
    id: str
    status: Literal["pending", "approved", "rejected"]
    data: dict[str, Any]
    created_at: str
    decided_at: str | None = None
    reason: str | None = None
    record_id: str | None = None
    revision: int = Field(
        0, description="Bumped by each edit; pass it back as expected_revision to decide on what you saw"
    )
    history: list[DecisionOut] = Field(
        default_factory=list, description="Submitted, edited, approved, rejected: who, when, what"
    )

    @classmethod
    def of(cls, s: Submission) -> SubmissionOut:
        j = s.to_json()
        return cls(
            **{
                k: j[k] for k in ("id", "status", "data", "created_at", "decided_at", "reason", "record_id", "revision")
            },
            history=[DecisionOut.of(d) for d in s.history],
        )


SubmissionState = Literal["pending", "approved", "rejected"]  # index/moderation/submissions.STATUSES


class SubmissionStatus(BaseModel):
    """What the submitter may see through their status link: never the moderators' notes or edits."""

    status: SubmissionState
    title: str
    created_at: str
    decided_at: str | None = None
    reason: str | None = Field(None, description="Why it was rejected")
    project_id: str | None = Field(None, description="The published project, when approved")


class SubmissionList(BaseModel):
    total: int
    submissions: list[SubmissionOut]


class Approved(BaseModel):
    submission: SubmissionOut
    record: Record


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Annotated[str, Field(min_length=1, max_length=2000, description="Why, for the record (and the submitter)")]
    expected_revision: int | None = Field(
        None, description="Refuse (409) if the submission was edited since this revision"
    )


class SubmissionEdit(SubmissionIn):
    """A moderator's correction: only the fields sent change; null or "" clears an optional one."""

    title: Annotated[str | None, Field(min_length=1, max_length=300)] = None  # type: ignore[assignment]
    organisation: Annotated[str | None, Field(min_length=1, max_length=300)] = None  # type: ignore[assignment]
    contact_consent: bool | None = None  # type: ignore[assignment]
    expected_revision: int | None = Field(
        None, description="Refuse (409) if the submission was edited since this revision"
    )

    def changes(self) -> dict[str, Any]:
        """The fields the request named, ready for SubmissionQueue.edit."""
        sent = self.model_dump(include=self.model_fields_set - {"expected_revision"})
        for required in ("title", "organisation"):
            if required in sent and sent[required] is None:
                raise unprocessable(invalid(["body", required], f"{required} cannot be cleared"))
        if CONSENT in sent:
            sent[CONSENT] = bool(sent[CONSENT])
        return sent


def status_of(sub: Submission) -> SubmissionStatus:
    return SubmissionStatus(
        status=cast(SubmissionState, sub.status),  # the queue admits no other (submissions.STATUSES)
        title=str(sub.data.get("title", "")),
        created_at=sub.created_at.isoformat(),
        decided_at=sub.decided_at.isoformat() if sub.decided_at else None,
        reason=sub.reason if sub.status == "rejected" else None,
        project_id=sub.record_id if sub.status == "approved" else None,
    )

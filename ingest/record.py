"""The one record type every source is normalised into.

Sources disagree on almost everything (column names, languages, which fields exist),
so the record is deliberately permissive: only a title is required, because a project
without a name cannot be shown or asked about. Everything else may be missing.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SAFE_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class RecordError(ValueError):
    """A row that cannot become a record; the message says what to fix."""


def make_id(source: str, source_id: str) -> str:
    """Derive the stable public id from the source and the source's own id.

    Re-ingesting the same file must hit the same record, so the id depends on
    nothing but these two values. Readable ids are kept readable; anything that
    would not be safe in a URL path is hashed instead.
    """
    if not _SAFE_SOURCE.match(source):
        raise RecordError(f"source {source!r} must be 1-32 lowercase letters, digits, '-' or '_'")
    sid = str(source_id).strip()
    if not sid:
        raise RecordError("source_id is empty: every row needs its source's own id")
    if _SAFE_ID.match(sid):
        return f"{source}-{sid}"
    return f"{source}-h{hashlib.sha1(sid.encode('utf-8')).hexdigest()[:16]}"


def _blank_to_none(value: object) -> object:
    """Sources write 'missing' as '', ' ', 'nan' or '-'; treat all of them as absent."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from spreadsheets
        return None
    if isinstance(value, str):
        v = " ".join(value.split())
        return None if v.lower() in {"", "-", "nan", "none", "null", "n/a"} else v
    return value


def _to_list(value: object) -> list[str]:
    """Lists arrive as JSON arrays or as ';'/','-separated cells."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r"[;\n]|,(?!\d)", value)
    else:
        parts = [str(v) for v in value]  # type: ignore[union-attr]
    out: list[str] = []
    for p in parts:
        p = _blank_to_none(p)  # type: ignore[assignment]
        if p and p not in out:
            out.append(p)
    return out


def _to_year(value: object) -> int | None:
    """Years come as 2021, '2021', '2021.0', '2021-03-01' or 'ukjent'."""
    value = _blank_to_none(value)
    if value is None:
        return None
    m = re.search(r"(19|20)\d\d", str(value))
    return int(m.group(0)) if m else None


OptStr = Annotated[str | None, BeforeValidator(_blank_to_none)]
StrList = Annotated[list[str], BeforeValidator(_to_list)]
Year = Annotated[int | None, BeforeValidator(_to_year)]


class Record(BaseModel):
    """A public-sector AI project, whatever registry it came from."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(description="Stable id: source + the source's own id.")
    source: str = Field(description="Which registry or file family the record came from, e.g. 'digdir', 'pstw', 'demo'.")
    source_id: str = Field(description="The id the source itself uses for the project.")
    title: str = Field(min_length=1, description="Project name; the only required content field.")
    description: OptStr = None
    purpose: OptStr = None
    organisation: OptStr = Field(default=None, description="The owning public body.")
    organisation_number: OptStr = Field(
        default=None, description="The owner's number in a public registry (Norway's Enhetsregisteret, Sweden's organisationsnummer), where the source gives it: how to reach the body, never a person.")
    owner_type: OptStr = Field(default=None, description="municipality, region, state agency, state company, health trust, ...")
    partners: StrList = Field(default_factory=list, description="Associated organisations.")
    country: OptStr = Field(default=None, description="ISO 3166-1 alpha-2, e.g. NO, SE, DK, FI.")
    region: OptStr = None
    municipality: OptStr = None
    sector: OptStr = None
    status: OptStr = None
    start_year: Year = None
    end_year: Year = None
    link: OptStr = None
    tags: StrList = Field(default_factory=list)
    language: OptStr = Field(default=None, description="ISO 639-1 of the text: nb, nn, sv, da, en, fi, ...")
    updated_at: datetime | None = None

    @field_validator("title", mode="before")
    @classmethod
    def _title_present(cls, v: object) -> object:
        v = _blank_to_none(v)
        if v is None:
            raise ValueError("title is missing: a project without a name cannot be listed")
        return v

    @field_validator("organisation_number", mode="after")
    @classmethod
    def _organisation_number(cls, v: str | None) -> str | None:
        if v is None:
            return None
        digits = re.sub(r"[\s.]", "", v)
        if not re.fullmatch(r"\d{6,12}(-\d{1,6})?", digits):
            raise ValueError(f"organisation_number {v!r} must be a registry number such as 974760673 or 212000-0142")
        return digits

    @field_validator("country", mode="after")
    @classmethod
    def _country_code(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{2}", v):
            raise ValueError(f"country {v!r} must be a two-letter ISO code such as NO or SE")
        return v.upper()

    @classmethod
    def build(cls, source: str, source_id: object, **fields: object) -> "Record":
        """Create a record, deriving its id; raises RecordError with a readable reason."""
        from pydantic import ValidationError

        sid = str(_blank_to_none(source_id) or "")
        try:
            return cls(id=make_id(source, sid), source=source, source_id=sid, **fields)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise RecordError(_explain(exc)) from None

    def embedding_text(self) -> str:
        """The text the model sees.

        Title, description and purpose carry the meaning. A row with neither
        description nor purpose is still findable through its title and owner.
        """
        parts = [self.title]
        if self.description:
            parts.append(self.description)
        if self.purpose and self.purpose != self.description:
            parts.append(self.purpose)
        if len(parts) == 1 and self.organisation:
            parts.append(self.organisation)
        return "\n".join(parts)

    def content_hash(self) -> str:
        """Hash of everything but bookkeeping, so re-ingest can tell 'unchanged' from 'updated'."""
        data = self.model_dump(mode="json", exclude={"updated_at"})
        return hashlib.sha256(repr(sorted(data.items())).encode("utf-8")).hexdigest()


def _explain(exc: "Exception") -> str:
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    msgs = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        msg = str(err["msg"]).removeprefix("Value error, ")
        msgs.append(f"{loc}: {msg}")
    return "; ".join(msgs)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)

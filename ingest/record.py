"""The one record type every source is normalised into.

Sources disagree on almost everything (column names, languages, which fields exist),
so the record is deliberately permissive: only a title is required, because a project
without a name cannot be shown or asked about. Everything else may be missing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from erfa.ingest import orgnames
from erfa.ingest.limits import MAX_TEXT_CHARS, short

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SAFE_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# Control characters (NUL, ESC, DEL, C1) and lone surrogates: invisible on a page, they
# break terminals, JSON consumers and UTF-8 encoding. Whitespace controls (tab, newline,
# ...) are not listed: the fields collapse all whitespace into single spaces anyway.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")
# "scheme:" at the start of a link; a host:port ("kommune.no:8080") is not a scheme.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(?!\d)")
_WEB_SCHEMES = frozenset({"http", "https"})
MAX_LINK_CHARS = 2000
# Validation context for records erfa itself wrote (the store, a backup): they were
# checked when they came in, so a rule added since must never make them unreadable.
STORED: dict[str, Any] = {"stored": True}


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


def strip_controls(text: str) -> str:
    """The text without control characters other than whitespace (see _CONTROL)."""
    return _CONTROL.sub("", text)


def _blank_to_none(value: object) -> object:
    """Sources write 'missing' as '', ' ', 'nan' or '-'; treat all of them as absent."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from spreadsheets
        return None
    if isinstance(value, str):
        v = " ".join(strip_controls(value).split())
        return None if v.lower() in {"", "-", "nan", "none", "null", "n/a"} else v
    return value


def _to_list(value: object) -> list[str]:
    """Lists arrive as JSON arrays or as ';'/','-separated cells."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r"[;\n]|,(?!\d)", value)
    elif isinstance(value, Iterable):
        parts = [str(v) for v in value]
    else:
        # A ValueError, not the TypeError iterating would raise: pydantic turns it into the RecordError callers expect.
        raise ValueError(f"expected a list or text separated by ';', got {type(value).__name__} {value!r}")
    out: list[str] = []
    for part in parts:
        p = _blank_to_none(part)
        if isinstance(p, str) and p and p not in out:
            out.append(p)
    return out


def _to_year(value: object) -> int | None:
    """Years come as 2021, '2021', '2021.0', '2021-03-01' or 'ukjent'."""
    value = _blank_to_none(value)
    if value is None:
        return None
    m = re.search(r"(19|20)\d\d", str(value))
    return int(m.group(0)) if m else None


def web_link(value: str) -> str:
    """`value` as an http(s) URL; a bare address gets https://; anything else raises.

    Links are rendered as href and handed to the widget's hosts, so a `javascript:` or
    `data:` link would run in their pages. People type "fjordvik.kommune.no/ki"
    without a scheme; that is completed rather than refused (issue 12).
    """
    link = value.strip()
    if link.startswith("//"):
        link = "https:" + link
    scheme = _SCHEME.match(link)
    if scheme is None:
        link = "https://" + link
    elif scheme.group(1).lower() not in _WEB_SCHEMES:
        raise ValueError(
            f"link {short(value)!r} is not a web address: erfa accepts only http:// and https:// links "
            f"(e.g. https://fjordvik.kommune.no/ki), not {scheme.group(1).lower()}:"
        )
    parts = urlsplit(link)
    host = parts.hostname or ""
    bare = scheme is None
    if (
        len(link) > MAX_LINK_CHARS
        or any(ch.isspace() for ch in link)
        or not host
        or (bare and ("." not in host or host.startswith(".") or host.endswith(".")))
    ):
        raise ValueError(
            f"link {short(value)!r} is not a web address: erfa accepts http:// and https:// links such as "
            f"https://fjordvik.kommune.no/ki (no spaces, at most {MAX_LINK_CHARS:,} characters)"
        )
    return link


def _cap_text(value: str | None, info: ValidationInfo) -> str | None:
    """Cut a description or purpose at MAX_TEXT_CHARS, at a word boundary, and say so.

    A longer text is a pasted document or a broken export rather than a description;
    its start is what describes the project, so the project is kept with that. The
    note goes to the ingest report through the validation context. Stored records
    are never cut again.
    """
    context = info.context or {}
    if value is None or len(value) <= MAX_TEXT_CHARS or context.get("stored"):
        return value
    cut = value.rfind(" ", MAX_TEXT_CHARS // 2, MAX_TEXT_CHARS - 1)
    kept = value[: cut if cut > 0 else MAX_TEXT_CHARS - 2].rstrip() + " …"
    notes = context.get("notes")
    if isinstance(notes, list):
        notes.append(
            f"{info.field_name} is {len(value):,} characters long; kept the first {len(kept) - 2:,} "
            f"(erfa keeps at most {MAX_TEXT_CHARS:,})"
        )
    return kept


OptStr = Annotated[str | None, BeforeValidator(_blank_to_none)]
StrList = Annotated[list[str], BeforeValidator(_to_list)]
Year = Annotated[int | None, BeforeValidator(_to_year)]


class Record(BaseModel):
    """A public-sector AI project, whatever registry it came from."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(description="Stable id: source + the source's own id.")
    source: str = Field(
        description="Which registry or file family the record came from, e.g. 'digdir', 'pstw', 'demo'."
    )
    source_id: str = Field(description="The id the source itself uses for the project.")
    title: str = Field(min_length=1, description="Project name; the only required content field.")
    description: OptStr = None
    purpose: OptStr = None
    organisation: OptStr = Field(default=None, description="The owning public body.")
    organisation_number: OptStr = Field(
        default=None,
        description=(
            "The owner's number in a public registry (Norway's Enhetsregisteret, Sweden's organisationsnummer), "
            "where the source gives it: how to reach the body, never a person."
        ),
    )
    website: OptStr = Field(
        default=None,
        description=(
            "The owning organisation's own web site (http/https), where the source or the submitter gives it: how "
            "to reach the body, never a person."
        ),
    )
    contact: OptStr = Field(
        default=None,
        max_length=200,
        description=(
            "A functional contact of the organisation (a team mailbox or a role, e.g. "
            "'digitalisering@fjordvik.kommune.no'); set only when its submitter agreed to publish it."
        ),
    )
    owner_type: OptStr = Field(
        default=None, description="municipality, region, state agency, state company, health trust, ..."
    )
    partners: StrList = Field(default_factory=list, description="Associated organisations.")
    country: OptStr = Field(default=None, description="ISO 3166-1 alpha-2, e.g. NO, SE, DK, FI.")
    region: OptStr = None
    municipality: OptStr = None
    sector: OptStr = None
    sector_inferred: bool = Field(
        default=False,
        description=(
            "True when the source gave no sector and `sector` was inferred from the text by the embedding model."
        ),
    )
    status: OptStr = None
    start_year: Year = None
    end_year: Year = None
    link: OptStr = None
    tags: StrList = Field(default_factory=list)
    language: OptStr = Field(default=None, description="ISO 639-1 of the text: nb, nn, sv, da, en, fi, ...")
    updated_at: datetime | None = None

    _notes: list[str] = PrivateAttr(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """What reading changed in the row (e.g. a description cut to the cap), for the ingest report."""
        return self._notes

    @field_validator("source_id", mode="before")
    @classmethod
    def _source_id_clean(cls, v: object) -> object:
        return strip_controls(v) if isinstance(v, str) else v

    @field_validator("description", "purpose", mode="after")
    @classmethod
    def _text_capped(cls, v: str | None, info: ValidationInfo) -> str | None:
        return _cap_text(v, info)

    @field_validator("link", "website", mode="after")
    @classmethod
    def _web_link(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return None
        try:
            return web_link(v)
        except ValueError:
            if (info.context or {}).get("stored"):
                return None  # stored before links were checked: never served, never fatal
            raise

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

    @model_validator(mode="after")
    def _organisation_cleaned(self, info: ValidationInfo) -> Record:
        """The organisation as a name people can use (ingest/orgnames.py), at every door and for
        stored records too: "Unknown" or an empty name is no organisation, a team mailbox in
        the name becomes the contact and a web address the web site (where none is given),
        a person's address and the registry's "| City, Country" leave the name."""
        if self.organisation is None:
            return self
        cleaned = orgnames.clean(self.organisation)
        if cleaned.name == self.organisation and cleaned.contact is None and cleaned.website is None:
            return self
        self.organisation = cleaned.name
        if cleaned.contact and not self.contact:
            self.contact = cleaned.contact
        if cleaned.website and not self.website:
            self.website = cleaned.website
        notes = (info.context or {}).get("notes")
        if isinstance(notes, list):
            notes.extend(cleaned.notes)
        return self

    @classmethod
    def build(cls, source: str, source_id: object, **fields: object) -> Record:
        """Create a record, deriving its id; raises RecordError with a readable reason."""
        from pydantic import ValidationError

        sid = str(_blank_to_none(source_id) or "")
        notes: list[str] = []
        try:
            record = cls.model_validate(
                {"id": make_id(source, sid), "source": source, "source_id": sid, **fields}, context={"notes": notes}
            )
        except ValidationError as exc:
            raise RecordError(_explain(exc)) from None
        record._notes = notes
        return record

    @classmethod
    def stored(cls, data: object) -> Record:
        """A record erfa wrote itself (store, backup): read leniently, so no stored record is ever lost.

        Rules added later still apply where they cannot lose anything: control
        characters are dropped and an unsafe link is left out rather than served.
        """
        return cls.model_validate(data, context=STORED)

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
        """Hash of what the source said, so re-ingest can tell 'unchanged' from 'updated'.

        Fields left at their default are left out (a field added to Record later does not
        make every stored record look changed), and so is anything erfa derived itself."""
        derived = {"sector", "sector_inferred"} if self.sector_inferred else set()
        data = self.model_dump(mode="json", exclude={"updated_at", *derived}, exclude_defaults=True)
        return hashlib.sha256(repr(sorted(data.items())).encode("utf-8")).hexdigest()


def _explain(exc: Exception) -> str:
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    msgs = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        msg = str(err["msg"]).removeprefix("Value error, ")
        msgs.append(f"{loc}: {msg}")
    return "; ".join(msgs)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)

from __future__ import annotations

import pytest

from erfa.ingest import vocab


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Planlagt", "planned"),
        ("Under utvikling", "in_development"),
        ("I utvikling", "in_development"),
        ("Pågående", "in_development"),
        ("Pilot", "pilot"),
        ("Pilot phase", "pilot"),
        ("I produksjon", "implemented"),
        ("Implementert", "implemented"),
        ("I bruk", "implemented"),
        ("i drift", "implemented"),
        ("Avsluttet", "completed"),
        ("Avbrutt", "discontinued"),
        ("Nedlagt", "discontinued"),
        ("Genomfört", "completed"),
        ("Not in use", "discontinued"),
        ("  IMPLEMENTED. ", "implemented"),
        ("in_development", "in_development"),
        ("Something else", None),
        ("", None),
        (None, None),
    ],
)
def test_status(raw: object, expected: str | None) -> None:
    assert vocab.normalise_status(raw) == expected


@pytest.mark.parametrize(
    ("raw", "organisation", "expected"),
    [
        ("Statlig virksomhet", None, "state_agency"),
        ("Statlig virksmhet", None, "state_agency"),  # typo in Digdir's overview
        ("Statlig selskap", None, "state_company"),
        ("Kommunal sektor", None, "municipality"),
        ("Central-Government", None, "state_agency"),
        ("Regional Government", None, "region"),
        ("Annet", "Vestfjord fylkeskommune", "county"),
        ("Annet", "Helse Bergen", "health_trust"),
        ("Annet", "Norges teknisk-naturvitenskapelige universitet", "university"),
        ("Annet", "Examplia Energi AS", "other"),
        (None, "Sjøstad kommune", "municipality"),
        ("Consortium", "University of Examplia", "other"),  # a real classification is kept
        ("stiftelse", None, None),
    ],
)
def test_owner_type(raw: object, organisation: str | None, expected: str | None) -> None:
    assert vocab.normalise_owner_type(raw, organisation) == expected


def test_sector_names_ministries_and_cofog() -> None:
    assert vocab.normalise_sector("Helse") == "health"
    assert vocab.normalise_sector("Klima og miljø") == "environment"
    assert vocab.normalise_sector("Statsforvaltning") is None
    assert vocab.sector_from_ministry("Helse- og omsorgsdepartementet") == "health"
    assert vocab.sector_from_ministry("Nærings- og fiskeridepartementet") is None
    assert vocab.sector_from_cofog("Hospital services.", "Health") == "health"
    assert vocab.sector_from_cofog("Transport", "Economic affairs") == "transport"
    # A known but unmappable level II must not fall back to level I.
    assert vocab.sector_from_cofog("Water supply.", "Housing and community amenities") is None
    assert vocab.sector_from_cofog(None, "Education") == "education"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Norway", "NO"),
        ("Norge", "NO"),
        ("Noreg", "NO"),
        ("Sverige", "SE"),
        ("Danmark", "DK"),
        ("Suomi", "FI"),
        ("Denmark ", "DK"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("USA", "US"),
        ("Czechia", "CZ"),
        ("Türkiye", "TR"),
        ("se", "SE"),
        ("NOR", "NO"),
        ("EL", "GR"),
        ("European Union", None),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_country(raw: str, expected: str | None) -> None:
    assert vocab.country_code(raw) == expected

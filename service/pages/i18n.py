"""User-facing strings of the web page, the embed page and the widget, in nb, nn, sv and en.

The people using erfa read Bokmål, Nynorsk or Swedish at work, so the interface speaks
their language: chosen from ``?lang=``, else the ``erfa_lang`` cookie, else the browser's
``Accept-Language``, else English. The cookie is set only when the user chooses a language
(the visible switch or ``?lang=``), holds nothing but the language code, and is strictly
necessary for the function the user asked for, so it needs no consent banner; an explicit
choice also travels in the links, so the page works with cookies blocked.

Everything is a plain dict so a translator can review a key in all four languages side
by side, and a test checks that no language misses a key. Codes from
``erfa.ingest.vocab`` (status, sector, owner type) get human labels here; an unknown
code falls back to the code itself rather than to a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from babel import Locale

LANGS: Final = ("nb", "nn", "sv", "en")
DEFAULT: Final = "en"
# How each language names itself, for the visible switch (each link carries its own lang attribute).
ENDONYMS: Final = {"nb": "Bokmål", "nn": "Nynorsk", "sv": "Svenska", "en": "English"}
# Browser language tags that map onto a UI language ("no" is the generic Norwegian tag).
_ALIASES: Final = {"no": "nb", "nb": "nb", "nn": "nn", "sv": "sv", "en": "en"}

# key -> (nb, nn, sv, en)
_S: dict[str, tuple[str, str, str, str]] = {
    # -- chrome ------------------------------------------------------------------------
    "tagline": (
        "Finn offentlige KI-prosjekter – og hvem dere kan spørre",
        "Finn offentlege KI-prosjekt – og kven de kan spørje",
        "Hitta offentliga AI-projekt – och vem ni kan fråga",
        "Find public-sector AI projects – and whom to ask",
    ),
    "skip": (
        "Hopp til hovedinnholdet",
        "Hopp til hovudinnhaldet",
        "Hoppa till huvudinnehållet",
        "Skip to main content",
    ),
    "skip_results": ("Hopp til treffene", "Hopp til treffa", "Hoppa till träffarna", "Skip to the results"),
    "nav_label": ("Hovedmeny", "Hovudmeny", "Huvudmeny", "Main menu"),
    "nav_search": ("Søk", "Søk", "Sök", "Search"),
    "nav_submit": ("Meld inn prosjekt", "Meld inn prosjekt", "Anmäl projekt", "Submit a project"),
    "lang_label": ("Språk", "Språk", "Språk", "Language"),
    "footer": (
        "erfa samler KI-prosjekter i offentlig sektor i Norden og Europa, slik at dere kan lære av hverandre.",
        "erfa samlar KI-prosjekt i offentleg sektor i Norden og Europa, slik at de kan lære av kvarandre.",
        "erfa samlar AI-projekt i offentlig sektor i Norden och Europa, så att ni kan lära av varandra.",
        "erfa gathers public-sector AI projects in the Nordics and Europe, so that you can learn from each other.",
    ),
    "api_docs": ("API-dokumentasjon", "API-dokumentasjon", "API-dokumentation", "API documentation"),
    "opens_new_tab": ("(åpnes i ny fane)", "(blir opna i ny fane)", "(öppnas i ny flik)", "(opens in a new tab)"),
    # -- search ------------------------------------------------------------------------
    "question": (
        "Hva vil dere bruke KI til?",
        "Kva vil de bruke KI til?",
        "Vad vill ni använda AI till?",
        "What do you want to use AI for?",
    ),
    "search_hint": (
        "Beskriv behovet med egne ord – på norsk, svensk, dansk eller engelsk.",
        "Skildre behovet med eigne ord – på norsk, svensk, dansk eller engelsk.",
        "Beskriv behovet med egna ord – på svenska, norska, danska eller engelska.",
        "Describe the need in your own words – in Norwegian, Swedish, Danish or English.",
    ),
    "search_button": ("Søk", "Søk", "Sök", "Search"),
    "examples": ("Eksempler:", "Døme:", "Exempel:", "Examples:"),
    "example_1": (
        "chatbot som svarer på spørsmål om byggesak",
        "chatbot som svarar på spørsmål om byggjesak",
        "chattbot som svarar på frågor om bygglov",
        "chatbot answering questions about building permits",
    ),
    "example_2": (
        "transkribere møter automatisk",
        "transkribere møte automatisk",
        "transkribera möten automatiskt",
        "transcribe meetings automatically",
    ),
    "example_3": (
        "forutsi behov for hjemmetjenester",
        "føresjå behov for heimetenester",
        "förutse behov av hemtjänst",
        "predict the need for home care",
    ),
    "views_label": ("Vis", "Vis", "Visa", "Show"),
    "tab_projects": ("Prosjekter", "Prosjekt", "Projekt", "Projects"),
    "tab_partners": (
        "Organisasjoner med erfaring",
        "Organisasjonar med erfaring",
        "Organisationer med erfarenhet",
        "Organisations with experience",
    ),
    "results_title": ("Treff", "Treff", "Träffar", "Results"),
    "results_range": (
        "Viser {start}–{end} av {total}, de mest relevante først.",
        "Viser {start}–{end} av {total}, dei mest relevante først.",
        "Visar {start}–{end} av {total}, de mest relevanta först.",
        "Showing {start}–{end} of {total}, most relevant first.",
    ),
    # -- counts that tell the truth (issue 13, item 1) --
    "close_mark": ("Nært treff", "Nært treff", "Nära träff", "Close match"),
    "results_matches": (
        "Viser {start}–{end}, de mest relevante først. {matches} nære treff.",
        "Viser {start}–{end}, dei mest relevante først. {matches} nære treff.",
        "Visar {start}–{end}, de mest relevanta först. {matches} nära träffar.",
        "Showing {start}–{end}, most relevant first. {matches} close matches.",
    ),
    "results_plain": (
        "Viser {start}–{end}, de mest relevante først.",
        "Viser {start}–{end}, dei mest relevante først.",
        "Visar {start}–{end}, de mest relevanta först.",
        "Showing {start}–{end}, most relevant first.",
    ),
    "facets_over_matches": (
        "Tallene gjelder de {n} nære treffene.",
        "Tala gjeld dei {n} nære treffa.",
        "Siffrorna gäller de {n} nära träffarna.",
        "Counts are over the {n} close matches.",
    ),
    "facets_over_top": (
        "Tallene gjelder de {n} beste treffene.",
        "Tala gjeld dei {n} beste treffa.",
        "Siffrorna gäller de {n} bästa träffarna.",
        "Counts are over the {n} best results.",
    ),
    "facets_over_shown": (
        "Tallene gjelder de {n} treffene som vises.",
        "Tala gjeld dei {n} treffa som blir viste.",
        "Siffrorna gäller de {n} träffar som visas.",
        "Counts are over the {n} results shown.",
    ),
    "no_results": (
        "Ingen prosjekter passer til filtrene. Fjern noen av dem og prøv igjen.",
        "Ingen prosjekt passar til filtera. Fjern nokre av dei og prøv igjen.",
        "Inga projekt passar filtren. Ta bort några av dem och försök igen.",
        "No project fits the filters. Remove some of them and try again.",
    ),
    "no_close_title": ("Ingen nære treff", "Ingen nære treff", "Inga nära träffar", "No close match"),
    "no_close": (
        "Ingen prosjekter passer godt til dette behovet. Under ser du de nærmeste, men ingen av dem handler "
        "egentlig om det dere beskriver. Prøv å beskrive behovet på en annen måte – eller meld inn deres eget prosjekt.",
        "Ingen prosjekt passar godt til dette behovet. Under ser du dei næraste, men ingen av dei handlar "
        "eigentleg om det de skildrar. Prøv å skildre behovet på ein annan måte – eller meld inn dykkar eige prosjekt.",
        "Inget projekt passar riktigt bra för det här behovet. Nedan ser du de närmaste, men inget av dem handlar "
        "egentligen om det ni beskriver. Prova att beskriva behovet på ett annat sätt – eller anmäl ert eget projekt.",
        "No project is a close match for this need. Below are the nearest ones, but none of them is really about "
        "what you describe. Try describing the need differently – or submit your own project.",
    ),
    "prev": ("Forrige side", "Førre side", "Föregående sida", "Previous page"),
    "next": ("Neste side", "Neste side", "Nästa sida", "Next page"),
    "pagination": ("Sider", "Sider", "Sidor", "Pages"),
    "bad_filter": (
        "Filteret kan ikke brukes:",
        "Filteret kan ikkje brukast:",
        "Filtret kan inte användas:",
        "The filter cannot be used:",
    ),
    "bad_year": (
        "Årstall må være mellom 1900 og 2100.",
        "Årstal må vere mellom 1900 og 2100.",
        "Årtal måste vara mellan 1900 och 2100.",
        "Years must be between 1900 and 2100.",
    ),
    "empty_query": (
        "Beskriv med egne ord hva dere vil bruke KI til – noen få ord holder.",
        "Skildre med eigne ord kva de vil bruke KI til – nokre få ord held.",
        "Beskriv med egna ord vad ni vill använda AI till – några få ord räcker.",
        "Describe in your own words what you want to use AI for – a few words are enough.",
    ),
    "query_too_long": (
        "Beskrivelsen er for lang: høyst {limit} tegn, og denne har {length}. Gjør den kortere og søk på nytt.",
        "Skildringa er for lang: høgst {limit} teikn, og denne har {length}. Gjer ho kortare og søk på nytt.",
        "Beskrivningen är för lång: högst {limit} tecken, och den här har {length}. Korta den och sök igen.",
        "The description is too long: at most {limit} characters, and this one has {length}. "
        "Shorten it and search again.",
    ),
    "past_end": (
        "Denne siden er tom: søket har færre treff enn det.",
        "Denne sida er tom: søket har færre treff enn det.",
        "Den här sidan är tom: sökningen har färre träffar än så.",
        "This page is empty: the search has fewer results than that.",
    ),
    "first_page": ("Gå til første side", "Gå til første side", "Gå till första sidan", "Go to the first page"),
    "page_not_found_title": ("Fant ikke siden", "Fann ikkje sida", "Sidan hittades inte", "Page not found"),
    "page_not_found": (
        "Det finnes ingen side på denne adressen. Sjekk adressen, eller søk etter det dere trenger.",
        "Det finst inga side på denne adressa. Sjekk adressa, eller søk etter det de treng.",
        "Det finns ingen sida på den här adressen. Kontrollera adressen, eller sök efter det ni behöver.",
        "There is no page at this address. Check the address, or search for what you need.",
    ),
    "loading": (
        "erfa starter og laster søkeindeksen. Prøv igjen om noen sekunder.",
        "erfa startar og lastar søkjeindeksen. Prøv igjen om nokre sekund.",
        "erfa startar och läser in sökindexet. Försök igen om några sekunder.",
        "erfa is starting and loading the search index. Try again in a few seconds.",
    ),
    "busy_title": ("erfa har mye å gjøre", "erfa har mykje å gjere", "erfa har mycket att göra", "erfa is busy"),
    "busy": (
        "Mange søker akkurat nå. Prøv igjen om {seconds} sekunder.",
        "Mange søkjer akkurat no. Prøv igjen om {seconds} sekund.",
        "Många söker just nu. Försök igen om {seconds} sekunder.",
        "Many people are searching right now. Try again in {seconds} seconds.",
    ),
    "loading_title": ("erfa starter", "erfa startar", "erfa startar", "erfa is starting"),
    # -- filters -----------------------------------------------------------------------
    "filters": ("Avgrens treffene", "Avgrens treffa", "Filtrera träffarna", "Filter the results"),
    "filters_hint": (
        "Tallet viser antall blant de mest relevante treffene.",
        "Talet viser kor mange av dei mest relevante treffa.",
        "Siffran visar antalet bland de mest relevanta träffarna.",
        "The number counts the most relevant results.",
    ),
    "apply_filters": ("Bruk filtrene", "Bruk filtera", "Använd filtren", "Apply filters"),
    "clear_filters": ("Fjern alle filtre", "Fjern alle filter", "Rensa alla filter", "Clear all filters"),
    # the button that opens the filters on a narrow screen, and its label when some are chosen
    "filter_toggle": ("Filter", "Filter", "Filter", "Filters"),
    "filter_toggle_n": ("Filter (valgt: {n})", "Filter (valt: {n})", "Filter (valda: {n})", "Filters (chosen: {n})"),
    # shown only when JavaScript applies a filter as soon as it changes (no Apply button)
    "filters_auto": (
        "Treffene oppdateres med en gang du endrer et filter.",
        "Treffa blir oppdaterte med ein gong du endrar eit filter.",
        "Träffarna uppdateras direkt när du ändrar ett filter.",
        "The results update as soon as you change a filter.",
    ),
    "f_country": ("Land", "Land", "Land", "Country"),
    "f_language": (
        "Språk i beskrivelsen",
        "Språk i skildringa",
        "Språk i beskrivningen",
        "Language of the description",
    ),
    "f_status": ("Status", "Status", "Status", "Status"),
    "f_sector": ("Sektor", "Sektor", "Sektor", "Sector"),
    "f_owner_type": ("Type virksomhet", "Type verksemd", "Typ av organisation", "Type of organisation"),
    "f_years": ("Periode", "Periode", "Period", "Period"),
    "year_from": ("Fra år", "Frå år", "Från år", "From year"),
    "year_to": ("Til år", "Til år", "Till år", "To year"),
    # -- result and project fields -----------------------------------------------------
    "organisation": ("Virksomhet", "Verksemd", "Organisation", "Organisation"),
    "country": ("Land", "Land", "Land", "Country"),
    "language": ("Språk", "Språk", "Språk", "Language"),
    "status": ("Status", "Status", "Status", "Status"),
    "years": ("Periode", "Periode", "Period", "Period"),
    "since": ("fra {start}", "frå {start}", "från {start}", "since {start}"),
    "until": ("til {end}", "til {end}", "till {end}", "until {end}"),
    "sector": ("Sektor", "Sektor", "Sektor", "Sector"),
    "sector_inferred": (
        "anslått ut fra lignende prosjekter",
        "anslått ut frå liknande prosjekt",
        "uppskattad utifrån liknande projekt",
        "estimated from similar projects",
    ),
    "owner_type": ("Type virksomhet", "Type verksemd", "Typ av organisation", "Type of organisation"),
    "municipality": ("Kommune", "Kommune", "Kommun", "Municipality"),
    "region": ("Region/fylke", "Region/fylke", "Region/län", "Region"),
    "partners": ("Samarbeidspartnere", "Samarbeidspartnarar", "Samarbetspartner", "Partners"),
    "tags": ("Stikkord", "Stikkord", "Nyckelord", "Keywords"),
    "source": ("Kilde", "Kjelde", "Källa", "Source"),
    "updated": ("Sist oppdatert", "Sist oppdatert", "Senast uppdaterad", "Last updated"),
    "description": ("Beskrivelse", "Skildring", "Beskrivning", "Description"),
    "purpose": ("Formål", "Føremål", "Syfte", "Purpose"),
    "facts": ("Fakta om prosjektet", "Fakta om prosjektet", "Fakta om projektet", "About the project"),
    "project_link": (
        "Prosjektets nettside",
        "Nettsida til prosjektet",
        "Projektets webbplats",
        "The project's web page",
    ),
    "similar": ("Lignende prosjekter", "Liknande prosjekt", "Liknande projekt", "Similar projects"),
    "no_similar": (
        "Fant ingen lignende prosjekter.",
        "Fann ingen liknande prosjekt.",
        "Hittade inga liknande projekt.",
        "No similar projects found.",
    ),
    "no_description": (
        "Ingen beskrivelse: registeret oppgir bare tittelen.",
        "Inga skildring: registeret oppgir berre tittelen.",
        "Ingen beskrivning: registret anger bara titeln.",
        "No description: the registry gives only the title.",
    ),
    "contact": (
        "Kontakt organisasjonen",
        "Kontakt organisasjonen",
        "Kontakta organisationen",
        "Contact the organisation",
    ),
    "contact_text": (
        "Spør {org} om erfaringene deres. Bruk kontaktopplysningene på nettsidene deres (postmottak eller "
        "sentralbord), og be om å få snakke med den som har ansvar for «{title}».",
        "Spør {org} om erfaringane deira. Bruk kontaktopplysningane på nettsidene deira (postmottak eller "
        "sentralbord), og be om å få snakke med den som har ansvaret for «{title}».",
        "Fråga {org} om deras erfarenheter. Använd kontaktuppgifterna på deras webbplats (registratur eller "
        "växel) och be att få tala med den som är ansvarig för ”{title}”.",
        "Ask {org} about their experience. Use the contact details on their web site (main inbox or "
        "switchboard) and ask for the person responsible for “{title}”.",
    ),
    "contact_others": (
        "Andre organisasjoner med erfaring fra det samme",
        "Andre organisasjonar med erfaring frå det same",
        "Andra organisationer med erfarenhet av samma sak",
        "Other organisations with experience of the same",
    ),
    "back": ("Tilbake til søket", "Tilbake til søket", "Tillbaka till sökningen", "Back to the search"),
    "not_found_title": (
        "Fant ikke prosjektet",
        "Fann ikkje prosjektet",
        "Projektet hittades inte",
        "Project not found",
    ),
    "not_found": (
        "Prosjektet finnes ikke, eller det er fjernet. Søk etter det på nytt.",
        "Prosjektet finst ikkje, eller det er fjerna. Søk etter det på nytt.",
        "Projektet finns inte, eller så har det tagits bort. Sök efter det igen.",
        "The project does not exist or has been removed. Search for it again.",
    ),
    "demo_notice": (
        "Dette er et oppdiktet eksempelprosjekt fra erfas demodata, ikke et virkelig prosjekt.",
        "Dette er eit oppdikta eksempelprosjekt frå demodataa til erfa, ikkje eit verkeleg prosjekt.",
        "Det här är ett påhittat exempelprojekt från erfas demodata, inte ett verkligt projekt.",
        "This is an invented example project from erfa's demo data, not a real project.",
    ),
    # -- partners ----------------------------------------------------------------------
    "partners_intro": (
        "Organisasjoner som har gjort prosjekter som ligner på behovet, rangert etter hvor relevante "
        "prosjektene er, hvor langt de har kommet og hvor nye de er.",
        "Organisasjonar som har gjort prosjekt som liknar på behovet, rangerte etter kor relevante "
        "prosjekta er, kor langt dei har kome og kor nye dei er.",
        "Organisationer som har gjort projekt som liknar behovet, rangordnade efter hur relevanta "
        "projekten är, hur långt de har kommit och hur nya de är.",
        "Organisations that have done projects like the need, ranked by how relevant the projects are, "
        "how far they got and how recent they are.",
    ),
    "no_partners": (
        "Ingen organisasjoner har erfaring som passer godt til dette behovet. Prøv å beskrive det på en annen måte.",
        "Ingen organisasjonar har erfaring som passar godt til dette behovet. Prøv å skildre det på ein annan måte.",
        "Ingen organisation har erfarenhet som passar riktigt bra för behovet. Prova att beskriva det på ett annat sätt.",
        "No organisation has experience that closely matches this need. Try describing it differently.",
    ),
    "partner_projects": ("Relevante prosjekter", "Relevante prosjekt", "Relevanta projekt", "Relevant projects"),
    "website": ("Nettside", "Nettstad", "Webbplats", "Web site"),
    "org_number": ("Organisasjonsnummer", "Organisasjonsnummer", "Organisationsnummer", "Organisation number"),
    "partners_count": ("{n} organisasjoner", "{n} organisasjonar", "{n} organisationer", "{n} organisations"),
    "reason_one": ("1 prosjekt", "1 prosjekt", "1 projekt", "1 project"),
    "reason_many": ("{n} prosjekter", "{n} prosjekt", "{n} projekt", "{n} projects"),
    "reason_no_status": ("uten status", "utan status", "utan status", "without status"),
    "reason_closest": ("nærmest: {title}", "nærast: {title}", "närmast: {title}", "closest: {title}"),
    "also_in": ("Også registrert i", "Også registrert i", "Finns också i", "Also listed in"),
    # -- submit ------------------------------------------------------------------------
    "submit_title": ("Meld inn prosjekt", "Meld inn prosjekt", "Anmäl projekt", "Submit a project"),
    "submit_intro": (
        "Kjenner du et KI-prosjekt i offentlig sektor som mangler her? Meld det inn. En administrator går "
        "gjennom innmeldingen før prosjektet blir synlig i søket.",
        "Kjenner du eit KI-prosjekt i offentleg sektor som manglar her? Meld det inn. Ein administrator går "
        "gjennom innmeldinga før prosjektet blir synleg i søket.",
        "Känner du till ett AI-projekt i offentlig sektor som saknas här? Anmäl det. En administratör granskar "
        "anmälan innan projektet syns i sökningen.",
        "Do you know a public-sector AI project that is missing here? Submit it. An administrator reviews "
        "each submission before the project appears in search.",
    ),
    "required_note": (
        "Felt merket med * må fylles ut.",
        "Felt merkte med * må fyllast ut.",
        "Fält markerade med * är obligatoriska.",
        "Fields marked * are required.",
    ),
    "required": ("må fylles ut", "må fyllast ut", "obligatoriskt", "required"),
    "s_title": ("Navn på prosjektet", "Namn på prosjektet", "Projektets namn", "Name of the project"),
    "s_description": ("Beskrivelse", "Skildring", "Beskrivning", "Description"),
    "s_description_hint": (
        "Hva gjør løsningen, og hvilke data bruker den?",
        "Kva gjer løysinga, og kva data bruker ho?",
        "Vad gör lösningen, och vilka data använder den?",
        "What does the solution do, and which data does it use?",
    ),
    "s_purpose": ("Formål", "Føremål", "Syfte", "Purpose"),
    "s_purpose_hint": (
        "Hvilket behov skal prosjektet dekke?",
        "Kva behov skal prosjektet dekkje?",
        "Vilket behov ska projektet möta?",
        "Which need does the project meet?",
    ),
    "s_organisation": (
        "Virksomhet som eier prosjektet",
        "Verksemd som eig prosjektet",
        "Organisation som äger projektet",
        "Organisation that owns the project",
    ),
    "s_organisation_hint": (
        "For eksempel «Bergen kommune».",
        "Til dømes «Bergen kommune».",
        "Till exempel ”Malmö stad”.",
        "For example “Bergen kommune”.",
    ),
    "s_country": ("Land", "Land", "Land", "Country"),
    "s_municipality": ("Kommune", "Kommune", "Kommun", "Municipality"),
    "s_sector": ("Sektor", "Sektor", "Sektor", "Sector"),
    "s_status": ("Status", "Status", "Status", "Status"),
    "s_start_year": ("Startår", "Startår", "Startår", "Start year"),
    "s_end_year": ("Sluttår", "Sluttår", "Slutår", "End year"),
    "s_link": (
        "Lenke til mer informasjon",
        "Lenkje til meir informasjon",
        "Länk till mer information",
        "Link to more information",
    ),
    "s_link_hint": (
        "For eksempel fjordvik.kommune.no/ki – vi legger til https:// om det mangler.",
        "Til dømes fjordvik.kommune.no/ki – vi legg til https:// om det manglar.",
        "Till exempel fjordvik.kommun.se/ai – vi lägger till https:// om det saknas.",
        "For example fjordvik.kommune.no/ki – we add https:// if it is missing.",
    ),
    "not_given": ("Ikke oppgitt", "Ikkje oppgitt", "Ej angivet", "Not given"),
    "send": ("Send inn", "Send inn", "Skicka", "Submit"),
    "sending": ("Sender …", "Sender …", "Skickar …", "Sending …"),
    "noscript": (
        "Skjemaet trenger JavaScript. Slå det på, eller send prosjektet til erfa sitt API (POST /submissions).",
        "Skjemaet treng JavaScript. Slå det på, eller send prosjektet til API-et til erfa (POST /submissions).",
        "Formuläret behöver JavaScript. Slå på det, eller skicka projektet till erfas API (POST /submissions).",
        "The form needs JavaScript. Turn it on, or send the project to erfa's API (POST /submissions).",
    ),
    "err_summary": ("Noe må rettes", "Noko må rettast", "Något behöver rättas", "There is a problem"),
    "err_required": ("Fyll ut «{field}».", "Fyll ut «{field}».", "Fyll i ”{field}”.", "Enter “{field}”."),
    "err_year": (
        "Skriv et årstall mellom 1950 og 2100.",
        "Skriv eit årstal mellom 1950 og 2100.",
        "Ange ett årtal mellan 1950 och 2100.",
        "Enter a year between 1950 and 2100.",
    ),
    "err_end_before_start": (
        "Sluttåret kan ikke være før startåret.",
        "Sluttåret kan ikkje vere før startåret.",
        "Slutåret kan inte vara före startåret.",
        "The end year cannot be before the start year.",
    ),
    "err_link": (
        "Skriv en fullstendig nettadresse som begynner med https:// eller http://.",
        "Skriv ei fullstendig nettadresse som byrjar med https:// eller http://.",
        "Ange en fullständig webbadress som börjar med https:// eller http://.",
        "Enter a full web address starting with https:// or http://.",
    ),
    "err_too_long": ("Teksten er for lang.", "Teksten er for lang.", "Texten är för lång.", "The text is too long."),
    "err_invalid": (
        "Sjekk det du har skrevet i dette feltet.",
        "Sjekk det du har skrive i dette feltet.",
        "Kontrollera det du har skrivit i fältet.",
        "Check what you entered in this field.",
    ),
    "err_rate": (
        "Det er sendt inn mange prosjekter herfra på kort tid. Prøv igjen senere.",
        "Det er sendt inn mange prosjekt herifrå på kort tid. Prøv igjen seinare.",
        "Många projekt har skickats in härifrån på kort tid. Försök igen senare.",
        "Many projects were submitted from here in a short time. Try again later.",
    ),
    "err_server": (
        "Innmeldingen kunne ikke sendes akkurat nå. Prøv igjen om litt.",
        "Innmeldinga kunne ikkje sendast akkurat no. Prøv igjen om litt.",
        "Anmälan kunde inte skickas just nu. Försök igen om en stund.",
        "The submission could not be sent just now. Try again in a while.",
    ),
    "receipt_title": (
        "Takk! Prosjektet er mottatt",
        "Takk! Prosjektet er motteke",
        "Tack! Projektet har tagits emot",
        "Thank you! The project has been received",
    ),
    "receipt_text": (
        "En administrator går gjennom innmeldingen. Prosjektet blir synlig i søket når det er godkjent.",
        "Ein administrator går gjennom innmeldinga. Prosjektet blir synleg i søket når det er godkjent.",
        "En administratör granskar anmälan. Projektet syns i sökningen när det har godkänts.",
        "An administrator reviews the submission. The project appears in search once it is approved.",
    ),
    "receipt_ref": ("Referanse:", "Referanse:", "Referens:", "Reference:"),
    "submit_another": (
        "Meld inn et prosjekt til",
        "Meld inn eit prosjekt til",
        "Anmäl ett projekt till",
        "Submit another project",
    ),
    # -- moderation, status links and contacts (issue 12: service/api/routers/admin.py, /submit/status, project page) --
    "s_website": (
        "Virksomhetens nettside",
        "Nettstaden til verksemda",
        "Organisationens webbplats",
        "The organisation's web site",
    ),
    "s_website_hint": (
        "For eksempel fjordvik.kommune.no – vi legger til https:// om det mangler.",
        "Til dømes fjordvik.kommune.no – vi legg til https:// om det manglar.",
        "Till exempel fjordvik.kommune.se – vi lägger till https:// om det saknas.",
        "For example fjordvik.kommune.no – we add https:// if it is missing.",
    ),
    "s_contact": ("Funksjonell kontakt", "Funksjonell kontakt", "Funktionell kontakt", "Functional contact"),
    "s_contact_hint": (
        "En felles e-postadresse eller en rolle, ikke en person – for eksempel "
        "digitalisering@fjordvik.kommune.no eller «KI-teamet, IT-avdelingen».",
        "Ei felles e-postadresse eller ei rolle, ikkje ein person – til dømes "
        "digitalisering@fjordvik.kommune.no eller «KI-teamet, IT-avdelinga».",
        "En gemensam e-postadress eller en roll, inte en person – till exempel "
        "digitalisering@fjordvik.kommun.se eller ”AI-teamet, IT-avdelningen”.",
        "A team mailbox or a role, not a person – for example "
        "digitalisering@fjordvik.kommune.no or “the AI team, IT department”.",
    ),
    "s_contact_consent": (
        "Kontakten kan publiseres sammen med prosjektet",
        "Kontakten kan publiserast saman med prosjektet",
        "Kontakten får publiceras tillsammans med projektet",
        "The contact may be published with the project",
    ),
    "s_contact_legend": (
        "Hvem kan andre kontakte?",
        "Kven kan andre kontakte?",
        "Vem kan andra kontakta?",
        "Whom can others contact?",
    ),
    "s_contact_legend_hint": (
        "Kontakten vises bare hvis du krysser av for det, og først når prosjektet er godkjent. "
        "Uten avkrysning ser bare administratorene den.",
        "Kontakten blir berre vist om du kryssar av for det, og først når prosjektet er godkjent. "
        "Utan avkryssing ser berre administratorane han.",
        "Kontakten visas bara om du kryssar i rutan, och först när projektet har godkänts. "
        "Utan kryss ser bara administratörerna den.",
        "The contact is shown only if you tick the box, and only once the project is approved. "
        "Without the tick only the administrators see it.",
    ),
    "link_completed": (
        "Vi la til https://. Sjekk at adressen stemmer: {link}",
        "Vi la til https://. Sjekk at adressa stemmer: {link}",
        "Vi lade till https://. Kontrollera att adressen stämmer: {link}",
        "We added https://. Check that the address is right: {link}",
    ),
    "submit_closed": (
        "Innmelding er stengt på denne serveren fordi ingen administrator kan godkjenne prosjekter ennå. "
        "Prøv igjen senere, eller kontakt dem som driver tjenesten.",
        "Innmelding er stengd på denne serveren fordi ingen administrator kan godkjenne prosjekt enno. "
        "Prøv igjen seinare, eller kontakt dei som driv tenesta.",
        "Anmälan är stängd på den här servern eftersom ingen administratör kan godkänna projekt ännu. "
        "Försök igen senare, eller kontakta dem som driver tjänsten.",
        "Submissions are closed on this server because no administrator can approve projects yet. "
        "Try again later, or contact the people who run the service.",
    ),
    "receipt_status_h": ("Følg innmeldingen", "Følg innmeldinga", "Följ anmälan", "Follow your submission"),
    "receipt_status_text": (
        "Ta vare på denne lenken. Den er privat og viser om prosjektet venter, er publisert eller er "
        "avvist (med begrunnelse). Vi kan ikke sende den på nytt.",
        "Ta vare på denne lenkja. Ho er privat og viser om prosjektet ventar, er publisert eller er "
        "avvist (med grunngjeving). Vi kan ikkje sende ho på nytt.",
        "Spara den här länken. Den är privat och visar om projektet väntar, har publicerats eller har "
        "avslagits (med motivering). Vi kan inte skicka den igen.",
        "Keep this link. It is private and shows whether the project is waiting, published or "
        "rejected (with the reason). We cannot send it again.",
    ),
    "receipt_links_h": ("Adresser vi lagret", "Adresser vi lagra", "Adresser vi sparade", "Addresses we stored"),
    "receipt_links_text": (
        "Sjekk at de stemmer. Er noe feil, skriv det i en ny innmelding eller kontakt oss.",
        "Sjekk at dei stemmer. Er noko feil, skriv det i ei ny innmelding eller kontakt oss.",
        "Kontrollera att de stämmer. Om något är fel, skriv det i en ny anmälan eller kontakta oss.",
        "Check that they are right. If something is wrong, say so in a new submission or contact us.",
    ),
    "contact_functional": ("Kontakt", "Kontakt", "Kontakt", "Contact"),
    "org_site": ("Nettsiden til {org}", "Nettstaden til {org}", "Webbplatsen för {org}", "{org}'s web site"),
    "org_registry": (
        "{number} i Enhetsregisteret",
        "{number} i Einingsregisteret",
        "{number} i Enhetsregistret (Norge)",
        "{number} in the Norwegian Register of Legal Entities",
    ),
    "st_title": (
        "Status for innmeldingen",
        "Status for innmeldinga",
        "Status för anmälan",
        "Status of your submission",
    ),
    "st_for": ("Prosjektet «{title}».", "Prosjektet «{title}».", "Projektet ”{title}”.", "The project “{title}”."),
    "st_received": ("Mottatt", "Motteke", "Mottagen", "Received"),
    "st_decided": ("Behandlet", "Handsama", "Behandlad", "Decided"),
    "st_pending": ("Venter på godkjenning", "Ventar på godkjenning", "Väntar på granskning", "Waiting for review"),
    "st_approved": ("Publisert", "Publisert", "Publicerad", "Published"),
    "st_rejected": ("Avvist", "Avvist", "Avslagen", "Rejected"),
    "st_pending_text": (
        "En administrator har ikke gått gjennom innmeldingen ennå. Se innom igjen senere.",
        "Ein administrator har ikkje gått gjennom innmeldinga enno. Sjå innom igjen seinare.",
        "En administratör har inte granskat anmälan ännu. Titta in igen senare.",
        "An administrator has not reviewed the submission yet. Check again later.",
    ),
    "st_approved_text": (
        "Prosjektet er godkjent og kan nå finnes i søket.",
        "Prosjektet er godkjent og kan no finnast i søket.",
        "Projektet har godkänts och går nu att hitta i sökningen.",
        "The project was approved and can now be found in search.",
    ),
    "st_see_project": (
        "Se prosjektet i erfa",
        "Sjå prosjektet i erfa",
        "Se projektet i erfa",
        "See the project in erfa",
    ),
    "st_rejected_text": (
        "Prosjektet ble ikke publisert. Begrunnelsen fra administratoren:",
        "Prosjektet vart ikkje publisert. Grunngjevinga frå administratoren:",
        "Projektet publicerades inte. Administratörens motivering:",
        "The project was not published. The administrator's reason:",
    ),
    "st_private": (
        "Denne siden er privat: bare den som har lenken, kan se den.",
        "Denne sida er privat: berre den som har lenkja, kan sjå ho.",
        "Den här sidan är privat: bara den som har länken kan se den.",
        "This page is private: only someone with the link can see it.",
    ),
    "st_unknown_title": (
        "Fant ikke innmeldingen",
        "Fann ikkje innmeldinga",
        "Anmälan hittades inte",
        "Submission not found",
    ),
    "st_unknown": (
        "Lenken viser ikke til noen innmelding. Sjekk at hele lenken er med.",
        "Lenkja viser ikkje til noka innmelding. Sjekk at heile lenkja er med.",
        "Länken leder inte till någon anmälan. Kontrollera att hela länken kom med.",
        "The link does not lead to any submission. Check that the whole link was copied.",
    ),
    "adm_title": ("Moderering", "Moderering", "Moderering", "Moderation"),
    "adm_nav": ("Moderering", "Moderering", "Moderering", "Moderation"),
    "adm_queue": ("Innmeldinger", "Innmeldingar", "Anmälningar", "Submissions"),
    "adm_history": ("Logg over beslutninger", "Logg over avgjerder", "Logg över beslut", "Log of decisions"),
    "adm_history_of": ("Historikk", "Historikk", "Historik", "History"),
    "adm_history_intro": (
        "Alt som er gjort med innmeldingene, nyeste først.",
        "Alt som er gjort med innmeldingane, nyaste først.",
        "Allt som har gjorts med anmälningarna, senaste först.",
        "Everything done with the submissions, newest first.",
    ),
    "adm_history_empty": (
        "Ingenting er gjort ennå.",
        "Ingenting er gjort enno.",
        "Inget har gjorts ännu.",
        "Nothing has happened yet.",
    ),
    "adm_sign_in_title": (
        "Logg inn for å moderere",
        "Logg inn for å moderere",
        "Logga in för att moderera",
        "Sign in to moderate",
    ),
    "adm_sign_in_intro": (
        "Skriv inn administratornøkkelen (ERFA_ADMIN_TOKEN) én gang. Du forblir innlogget til du logger ut, "
        "eller i høyst 8 timer uten aktivitet.",
        "Skriv inn administratornøkkelen (ERFA_ADMIN_TOKEN) éin gong. Du blir verande innlogga til du loggar ut, "
        "eller i høgst 8 timar utan aktivitet.",
        "Ange administratörsnyckeln (ERFA_ADMIN_TOKEN) en gång. Du förblir inloggad tills du loggar ut, "
        "eller högst 8 timmar utan aktivitet.",
        "Enter the admin token (ERFA_ADMIN_TOKEN) once. You stay signed in until you sign out, "
        "or for at most 8 hours without activity.",
    ),
    "adm_token": ("Administratornøkkel", "Administratornøkkel", "Administratörsnyckel", "Admin token"),
    "adm_token_hint": (
        "Den du har fått fra dem som driver erfa.",
        "Den du har fått frå dei som driv erfa.",
        "Den du har fått av dem som driver erfa.",
        "The one you got from the people who run erfa.",
    ),
    "adm_sign_in": ("Logg inn", "Logg inn", "Logga in", "Sign in"),
    "adm_sign_out": ("Logg ut", "Logg ut", "Logga ut", "Sign out"),
    "adm_signed_out": ("Du er logget ut.", "Du er logga ut.", "Du är utloggad.", "You have signed out."),
    "adm_expired": (
        "Økten er utløpt. Logg inn på nytt.",
        "Økta har gått ut. Logg inn på nytt.",
        "Sessionen har gått ut. Logga in igen.",
        "Your session has expired. Sign in again.",
    ),
    "adm_wrong_token": (
        "Nøkkelen er feil. Sjekk den og prøv igjen.",
        "Nøkkelen er feil. Sjekk han og prøv igjen.",
        "Nyckeln är fel. Kontrollera den och försök igen.",
        "The token is wrong. Check it and try again.",
    ),
    "adm_too_many": (
        "For mange forsøk på å logge inn. Vent et kvarter og prøv igjen.",
        "For mange forsøk på å logge inn. Vent eit kvarter og prøv igjen.",
        "För många inloggningsförsök. Vänta en kvart och försök igen.",
        "Too many attempts to sign in. Wait a quarter of an hour and try again.",
    ),
    "adm_disabled": (
        "Moderering er slått av: den som driver erfa, har ikke satt ERFA_ADMIN_TOKEN.",
        "Moderering er slått av: den som driv erfa, har ikkje sett ERFA_ADMIN_TOKEN.",
        "Moderering är avstängd: den som driver erfa har inte satt ERFA_ADMIN_TOKEN.",
        "Moderation is off: whoever runs erfa has not set ERFA_ADMIN_TOKEN.",
    ),
    "adm_refused_title": (
        "Handlingen ble avvist",
        "Handlinga vart avvist",
        "Åtgärden avvisades",
        "The action was refused",
    ),
    "adm_csrf": (
        "Skjemaet er utløpt eller kom fra et annet nettsted. Gå tilbake, last inn siden på nytt og prøv igjen.",
        "Skjemaet har gått ut eller kom frå ein annan nettstad. Gå tilbake, last inn sida på nytt og prøv igjen.",
        "Formuläret har gått ut eller kom från en annan webbplats. Gå tillbaka, ladda om sidan och försök igen.",
        "The form has expired or came from another site. Go back, reload the page and try again.",
    ),
    "adm_disk_full": (
        "Disken på serveren er full, så ingenting ble lagret. Si fra til dem som driver erfa.",
        "Disken på serveren er full, så ingenting vart lagra. Sei frå til dei som driv erfa.",
        "Disken på servern är full, så inget sparades. Meddela dem som driver erfa.",
        "The server's disk is full, so nothing was saved. Tell the people who run erfa.",
    ),
    "adm_by_status": (
        "Innmeldinger etter status",
        "Innmeldingar etter status",
        "Anmälningar efter status",
        "Submissions by status",
    ),
    "adm_status_pending": ("Venter", "Ventar", "Väntar", "Pending"),
    "adm_status_approved": ("Godkjent", "Godkjend", "Godkända", "Approved"),
    "adm_status_rejected": ("Avvist", "Avvist", "Avslagna", "Rejected"),
    "adm_caption_pending": (
        "{n} innmeldinger venter, eldste først",
        "{n} innmeldingar ventar, eldste først",
        "{n} anmälningar väntar, äldsta först",
        "{n} submissions waiting, oldest first",
    ),
    "adm_caption_approved": (
        "{n} godkjente innmeldinger",
        "{n} godkjende innmeldingar",
        "{n} godkända anmälningar",
        "{n} approved submissions",
    ),
    "adm_caption_rejected": (
        "{n} avviste innmeldinger",
        "{n} avviste innmeldingar",
        "{n} avslagna anmälningar",
        "{n} rejected submissions",
    ),
    "adm_empty_pending": (
        "Ingen innmeldinger venter.",
        "Ingen innmeldingar ventar.",
        "Inga anmälningar väntar.",
        "No submissions are waiting.",
    ),
    "adm_empty_approved": (
        "Ingen innmeldinger er godkjent ennå.",
        "Ingen innmeldingar er godkjende enno.",
        "Inga anmälningar har godkänts ännu.",
        "No submissions have been approved yet.",
    ),
    "adm_empty_rejected": (
        "Ingen innmeldinger er avvist.",
        "Ingen innmeldingar er avviste.",
        "Inga anmälningar har avslagits.",
        "No submissions have been rejected.",
    ),
    "adm_received": ("Mottatt", "Motteke", "Mottagen", "Received"),
    "adm_decided": ("Behandlet", "Handsama", "Behandlad", "Decided"),
    "adm_when": ("Når", "Når", "När", "When"),
    "adm_what": ("Hva", "Kva", "Vad", "What"),
    "adm_who": ("Hvem", "Kven", "Vem", "Who"),
    "adm_who_admin": ("administrator", "administrator", "administratör", "administrator"),
    "adm_who_submitter": ("innsender", "innsendar", "insändare", "submitter"),
    "adm_action_submitted": ("Sendt inn", "Send inn", "Inskickad", "Submitted"),
    "adm_action_edited": ("Redigert", "Redigert", "Redigerad", "Edited"),
    "adm_action_approved": (
        "Godkjent og publisert",
        "Godkjend og publisert",
        "Godkänd och publicerad",
        "Approved and published",
    ),
    "adm_action_rejected": ("Avvist", "Avvist", "Avslagen", "Rejected"),
    "adm_yes": ("Ja", "Ja", "Ja", "Yes"),
    "adm_back_to_queue": (
        "Tilbake til innmeldingene",
        "Tilbake til innmeldingane",
        "Tillbaka till anmälningarna",
        "Back to the submissions",
    ),
    "adm_no_such_title": (
        "Fant ikke innmeldingen",
        "Fann ikkje innmeldinga",
        "Anmälan hittades inte",
        "Submission not found",
    ),
    "adm_no_such": (
        "Det finnes ingen innmelding med denne referansen.",
        "Det finst inga innmelding med denne referansen.",
        "Det finns ingen anmälan med den referensen.",
        "There is no submission with this reference.",
    ),
    "adm_preview": (
        "Slik blir prosjektsiden",
        "Slik blir prosjektsida",
        "Så här blir projektsidan",
        "How the project page will look",
    ),
    "adm_preview_hint": (
        "Språk og land blir normalisert slik de blir ved publisering.",
        "Språk og land blir normaliserte slik dei blir ved publisering.",
        "Språk och land normaliseras så som de blir vid publicering.",
        "Language and country are normalised as they will be on publication.",
    ),
    "adm_contact_private": (
        "Innsenderen oppga kontakten «{contact}», men samtykket ikke til at den publiseres. Den vises ikke.",
        "Innsendaren oppgav kontakten «{contact}», men samtykte ikkje til at han blir publisert. Han blir ikkje vist.",
        "Insändaren angav kontakten ”{contact}” men samtyckte inte till att den publiceras. Den visas inte.",
        "The submitter gave the contact “{contact}” but did not agree to publish it. It is not shown.",
    ),
    "adm_edit": (
        "Rett opp før du bestemmer deg",
        "Rett opp før du avgjer",
        "Rätta innan du beslutar",
        "Correct before you decide",
    ),
    "adm_edit_hint": (
        "Endringene lagres i historikken. Du kan bare redigere innmeldinger som venter.",
        "Endringane blir lagra i historikken. Du kan berre redigere innmeldingar som ventar.",
        "Ändringarna sparas i historiken. Du kan bara redigera anmälningar som väntar.",
        "Changes are kept in the history. Only waiting submissions can be edited.",
    ),
    "adm_save": ("Lagre endringene", "Lagre endringane", "Spara ändringarna", "Save the changes"),
    "adm_decide": ("Bestem", "Avgjer", "Besluta", "Decide"),
    "adm_approve_hint": (
        "Prosjektet blir publisert og søkbart med en gang, slik forhåndsvisningen viser det.",
        "Prosjektet blir publisert og søkbart med ein gong, slik førehandsvisinga viser det.",
        "Projektet publiceras och blir sökbart direkt, så som förhandsvisningen visar det.",
        "The project is published and searchable at once, as the preview shows it.",
    ),
    "adm_approve": ("Godkjenn og publiser", "Godkjenn og publiser", "Godkänn och publicera", "Approve and publish"),
    "adm_reason": (
        "Begrunnelse for avvisning",
        "Grunngjeving for avvising",
        "Motivering för avslag",
        "Reason for rejecting",
    ),
    "adm_reason_hint": (
        "Innsenderen ser begrunnelsen på statussiden sin. Skriv den vennlig og konkret.",
        "Innsendaren ser grunngjevinga på statussida si. Skriv ho venleg og konkret.",
        "Insändaren ser motiveringen på sin statussida. Skriv den vänligt och konkret.",
        "The submitter sees the reason on their status page. Keep it kind and specific.",
    ),
    "adm_reason_missing": (
        "Skriv en begrunnelse før du avviser.",
        "Skriv ei grunngjeving før du avviser.",
        "Skriv en motivering innan du avslår.",
        "Write a reason before rejecting.",
    ),
    "adm_reject": ("Avvis", "Avvis", "Avslå", "Reject"),
    "adm_decision": ("Beslutning", "Avgjerd", "Beslut", "Decision"),
    "adm_rejected_because": (
        "Avvist med begrunnelsen:",
        "Avvist med grunngjevinga:",
        "Avslagen med motiveringen:",
        "Rejected with the reason:",
    ),
    "adm_published_as": ("Publisert som", "Publisert som", "Publicerad som", "Published as"),
    "adm_done_saved": (
        "Endringene er lagret.",
        "Endringane er lagra.",
        "Ändringarna har sparats.",
        "The changes are saved.",
    ),
    "adm_done_approved": (
        "Prosjektet er godkjent og publisert.",
        "Prosjektet er godkjent og publisert.",
        "Projektet har godkänts och publicerats.",
        "The project is approved and published.",
    ),
    "adm_see_project": ("Se prosjektsiden", "Sjå prosjektsida", "Se projektsidan", "See the project page"),
    "adm_done_rejected": (
        "Innmeldingen er avvist. Innsenderen ser begrunnelsen på statussiden sin.",
        "Innmeldinga er avvist. Innsendaren ser grunngjevinga på statussida si.",
        "Anmälan har avslagits. Insändaren ser motiveringen på sin statussida.",
        "The submission is rejected. The submitter sees the reason on their status page.",
    ),
    "adm_done_stale": (
        "Innmeldingen er endret siden du åpnet den. Se over den nye versjonen og bestem deg på nytt.",
        "Innmeldinga er endra sidan du opna ho. Sjå over den nye versjonen og avgjer på nytt.",
        "Anmälan har ändrats sedan du öppnade den. Granska den nya versionen och besluta igen.",
        "The submission was changed since you opened it. Review the new version and decide again.",
    ),
    "adm_done_decided": (
        "Innmeldingen er allerede behandlet, så det kan ikke gjøres nå.",
        "Innmeldinga er alt handsama, så det kan ikkje gjerast no.",
        "Anmälan är redan behandlad, så det går inte nu.",
        "The submission has already been decided, so that cannot be done now.",
    ),
    # -- end of moderation, status links and contacts ---------------------------------------------------------------
    # -- a newcomer's walk (issue 21): filters at registry scale, embedding that explains itself ----------
    "facet_more": (
        "Vis {n} andre uten treff",
        "Vis {n} andre utan treff",
        "Visa {n} till utan träffar",
        "Show {n} more with no results",
    ),
    "widget_origin": (
        "erfa kan ikke vises her: nettstedet {origin} har ikke fått tilgang ennå. "
        "Be den som drifter erfa, om å legge til {origin} i ERFA_CORS_ORIGINS.",
        "erfa kan ikkje visast her: nettstaden {origin} har ikkje fått tilgang enno. "
        "Be den som driftar erfa, om å leggje til {origin} i ERFA_CORS_ORIGINS.",
        "erfa kan inte visas här: webbplatsen {origin} har inte fått åtkomst än. "
        "Be den som driftar erfa att lägga till {origin} i ERFA_CORS_ORIGINS.",
        "erfa cannot be shown here: the site {origin} has not been given access yet. "
        "Ask whoever runs erfa to add {origin} to ERFA_CORS_ORIGINS.",
    ),
    "embed_refused_title": (
        "erfa kan ikke vises på denne siden",
        "erfa kan ikkje visast på denne sida",
        "erfa kan inte visas på den här sidan",
        "erfa cannot be shown on this page",
    ),
    "embed_refused": (
        "Nettstedet {origin} har ikke lov til å vise erfa i en iframe. "
        "Be den som drifter erfa, om å legge til {origin} i ERFA_FRAME_ANCESTORS.",
        "Nettstaden {origin} har ikkje lov til å vise erfa i ein iframe. "
        "Be den som driftar erfa, om å leggje til {origin} i ERFA_FRAME_ANCESTORS.",
        "Webbplatsen {origin} får inte visa erfa i en iframe. "
        "Be den som driftar erfa att lägga till {origin} i ERFA_FRAME_ANCESTORS.",
        "The site {origin} may not show erfa in an iframe. "
        "Ask whoever runs erfa to add {origin} to ERFA_FRAME_ANCESTORS.",
    ),
    "embed_open": (
        "Søk i erfa i stedet",
        "Søk i erfa i staden",
        "Sök i erfa i stället",
        "Search erfa instead",
    ),
    # -- embed and widget --------------------------------------------------------------
    "embed_title": ("Søk i erfa", "Søk i erfa", "Sök i erfa", "Search erfa"),
    "all_results": (
        "Se alle treff i erfa",
        "Sjå alle treff i erfa",
        "Se alla träffar i erfa",
        "See all results in erfa",
    ),
    "widget_error": (
        "Kunne ikke hente treff fra erfa. Prøv igjen senere.",
        "Kunne ikkje hente treff frå erfa. Prøv igjen seinare.",
        "Det gick inte att hämta träffar från erfa. Försök igen senare.",
        "Could not fetch results from erfa. Try again later.",
    ),
    "searching": ("Søker …", "Søkjer …", "Söker …", "Searching …"),
    "n_results": ("{n} treff", "{n} treff", "{n} träffar", "{n} results"),
    # -- feeds and export (service/api/routers/feeds.py; links on the results page) -----------
    "export_label": (
        "Følg eller last ned dette søket:",
        "Følg eller last ned dette søket:",
        "Följ eller ladda ned den här sökningen:",
        "Follow or download this search:",
    ),
    "feed_link": ("Nyhetsstrøm (Atom)", "Nyheitsstraum (Atom)", "Nyhetsflöde (Atom)", "News feed (Atom)"),
    "export_csv": (
        "Last ned som CSV (regneark)",
        "Last ned som CSV (rekneark)",
        "Ladda ned som CSV (kalkylark)",
        "Download as CSV (spreadsheet)",
    ),
    "export_json": ("Last ned som JSON", "Last ned som JSON", "Ladda ned som JSON", "Download as JSON"),
    "feed_head_title": (
        "Nye prosjekter som dette søket finner",
        "Nye prosjekt som dette søket finn",
        "Nya projekt som den här sökningen hittar",
        "New projects this search finds",
    ),
    "feed_title": (
        "erfa: prosjekter som «{q}»",
        "erfa: prosjekt som «{q}»",
        "erfa: projekt som ”{q}”",
        "erfa: projects like “{q}”",
    ),
    "feed_subtitle": (
        "Nye og oppdaterte offentlige KI-prosjekter som passer til behovet, nyeste først.",
        "Nye og oppdaterte offentlege KI-prosjekt som passar til behovet, nyaste først.",
        "Nya och uppdaterade offentliga AI-projekt som passar behovet, nyaste först.",
        "New and updated public-sector AI projects that match the need, newest first.",
    ),
    "feed_subtitle_none": (
        "Ingen prosjekter skiller seg ut for dette behovet ennå; dette er de nærmeste, nyeste først.",
        "Ingen prosjekt skil seg ut for dette behovet enno; dette er dei nærmaste, nyaste først.",
        "Inga projekt sticker ut för det här behovet än; det här är de närmaste, nyaste först.",
        "No project stands out for this need yet; these are the nearest, newest first.",
    ),
    # -- end of feeds and export -----------------------------------------------------------
}

STATUS: dict[str, tuple[str, str, str, str]] = {
    "planned": ("Planlagt", "Planlagd", "Planerat", "Planned"),
    "in_development": ("Under utvikling", "Under utvikling", "Under utveckling", "In development"),
    "pilot": ("Pilot", "Pilot", "Pilot", "Pilot"),
    "implemented": ("I bruk", "I bruk", "I drift", "In use"),
    "discontinued": ("Avsluttet", "Avslutta", "Avslutat", "Discontinued"),
}
OWNER_TYPE: dict[str, tuple[str, str, str, str]] = {
    "municipality": ("Kommune", "Kommune", "Kommun", "Municipality"),
    "county": ("Fylkeskommune", "Fylkeskommune", "Fylkeskommun", "County"),
    "region": ("Region", "Region", "Region", "Region"),
    "health_trust": ("Helseforetak", "Helseføretak", "Sjukhus och hälsoföretag", "Health trust"),
    "state_agency": ("Statlig virksomhet", "Statleg verksemd", "Statlig myndighet", "State agency"),
    "state_company": ("Statlig selskap", "Statleg selskap", "Statligt bolag", "State-owned company"),
    "university": (
        "Universitet og høgskole",
        "Universitet og høgskule",
        "Universitet och högskola",
        "University or college",
    ),
    "other": ("Annet", "Anna", "Annat", "Other"),
}
SECTOR: dict[str, tuple[str, str, str, str]] = {
    "health": ("Helse", "Helse", "Hälso- och sjukvård", "Health"),
    "social_services": ("Sosiale tjenester", "Sosiale tenester", "Socialtjänst", "Social services"),
    "education": ("Utdanning", "Utdanning", "Utbildning", "Education"),
    "transport": ("Samferdsel", "Samferdsel", "Transport", "Transport"),
    "energy": ("Energi", "Energi", "Energi", "Energy"),
    "archives_case_handling": (
        "Arkiv og saksbehandling",
        "Arkiv og sakshandsaming",
        "Arkiv och ärendehantering",
        "Archives and case handling",
    ),
    "tax_benefits": ("Skatt og ytelser", "Skatt og ytingar", "Skatt och förmåner", "Tax and benefits"),
    "building_maps": (
        "Plan, bygg og kart",
        "Plan, bygg og kart",
        "Plan, bygglov och kartor",
        "Planning, building and maps",
    ),
    "environment": ("Miljø og klima", "Miljø og klima", "Miljö och klimat", "Environment and climate"),
    "hr": ("Personal og HR", "Personal og HR", "Personal och HR", "HR"),
    "language_technology": ("Språkteknologi", "Språkteknologi", "Språkteknologi", "Language technology"),
    "culture": ("Kultur", "Kultur", "Kultur", "Culture"),
    "police_justice": ("Politi og justis", "Politi og justis", "Polis och rättsväsende", "Police and justice"),
    "agriculture_fisheries": (
        "Landbruk og fiskeri",
        "Landbruk og fiskeri",
        "Jordbruk och fiske",
        "Agriculture and fisheries",
    ),
    "finance": ("Økonomi og finans", "Økonomi og finans", "Ekonomi och finans", "Finance"),
    "other": ("Annet", "Anna", "Annat", "Other"),
}
# Countries offered in the submission form and carried by the widget: Nordic first (erfa's users),
# then the rest of Europe that EU Public Sector Tech Watch covers. Their names, like any other
# country code's, come from Babel's CLDR data in the interface language (Babel has nb and nn).
NORDIC: Final = ("NO", "SE", "DK", "FI", "IS")
COUNTRIES: Final = (
    *NORDIC,
    "AL",
    "AT",
    "BA",
    "BE",
    "BG",
    "CH",
    "CY",
    "CZ",
    "DE",
    "EE",
    "ES",
    "FR",
    "GB",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LI",
    "LT",
    "LU",
    "LV",
    "MD",
    "ME",
    "MK",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "RS",
    "SI",
    "SK",
    "TR",
    "UA",
    "US",
    "XK",
)


@lru_cache(maxsize=len(LANGS))
def _territories(lang: str) -> Mapping[str, str]:
    return Locale.parse(lang if lang in LANGS else DEFAULT).territories


def country(lang: str, code: str | None) -> str:
    """A country's name in the interface language ('RS' -> 'Serbien' in sv); an unknown code stays the code."""
    if not code:
        return ""
    key = code.strip().upper()
    if len(key) != 2 or not key.isalpha() or key == "ZZ":  # ZZ is CLDR's "unknown region", not a country
        return code
    return _territories(lang).get(key, code)


LANGUAGE: dict[str, tuple[str, str, str, str]] = {
    "nb": ("Bokmål", "Bokmål", "Norska (bokmål)", "Norwegian Bokmål"),
    "nn": ("Nynorsk", "Nynorsk", "Norska (nynorska)", "Norwegian Nynorsk"),
    "sv": ("Svensk", "Svensk", "Svenska", "Swedish"),
    "da": ("Dansk", "Dansk", "Danska", "Danish"),
    "en": ("Engelsk", "Engelsk", "Engelska", "English"),
    "fi": ("Finsk", "Finsk", "Finska", "Finnish"),
    "de": ("Tysk", "Tysk", "Tyska", "German"),
    "fr": ("Fransk", "Fransk", "Franska", "French"),
    "nl": ("Nederlandsk", "Nederlandsk", "Nederländska", "Dutch"),
    "es": ("Spansk", "Spansk", "Spanska", "Spanish"),
    "it": ("Italiensk", "Italiensk", "Italienska", "Italian"),
    "pt": ("Portugisisk", "Portugisisk", "Portugisiska", "Portuguese"),
    "pl": ("Polsk", "Polsk", "Polska", "Polish"),
    "et": ("Estisk", "Estisk", "Estniska", "Estonian"),
}
# Where a record came from (Record.source): the registries' own names, not erfa's codes (issue 19).
SOURCE: dict[str, tuple[str, str, str, str]] = {
    "digdir": (
        "Digdirs oversikt over KI-prosjekter",
        "Digdir si oversikt over KI-prosjekt",
        "Digdirs översikt över AI-projekt i Norge",
        "Digdir's overview of AI projects in Norway",
    ),
    "pstw": ("Public Sector Tech Watch (EU)",) * 4,
    "ipsx": ("Innovative Public Services Explorer (JRC)",) * 4,
    "aiwatch": ("AI Watch (JRC)",) * 4,
    "submission": ("Meldt inn til erfa", "Meldt inn til erfa", "Inskickat till erfa", "Submitted to erfa"),
    "demo": ("erfas demodata", "demodata i erfa", "erfas demodata", "erfa's demo data"),
}
LABELS: Final[Mapping[str, dict[str, tuple[str, str, str, str]]]] = {
    "status": STATUS,
    "owner_type": OWNER_TYPE,
    "sector": SECTOR,
    "language": LANGUAGE,
    "source": SOURCE,
}
# Strings the <erfa-search> widget needs; static/erfa-widget.js carries a copy, kept equal by a test.
WIDGET_KEYS: Final = (
    "question",
    "search_button",
    "searching",
    "n_results",
    "no_close",
    "widget_error",
    "all_results",
    "opens_new_tab",
    "close_mark",
    "also_in",
    "widget_origin",
)


def _col(lang: str) -> int:
    return LANGS.index(lang) if lang in LANGS else LANGS.index(DEFAULT)


def normalise(tag: str | None) -> str | None:
    """The UI language for a language tag such as 'sv-FI' or 'no', or None."""
    if not tag:
        return None
    return _ALIASES.get(tag.strip().lower().replace("_", "-").split("-")[0])


def from_accept_language(header: str | None) -> str:
    """Pick from ``Accept-Language`` by its q-values; English when nothing matches."""
    ranked: list[tuple[float, int, str]] = []
    for pos, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = normalise(tag)
        if lang and q > 0:
            ranked.append((-q, pos, lang))
    return min(ranked)[2] if ranked else DEFAULT


def choose(query_lang: str | None, accept_language: str | None, cookie: str | None = None) -> tuple[str, bool]:
    """(UI language, explicit?): ``?lang=`` wins over the remembered choice (the cookie),
    which wins over the browser's preference; only ``?lang=`` counts as explicit."""
    explicit = normalise(query_lang)
    if explicit:
        return explicit, True
    remembered = (cookie or "").strip().lower()
    if remembered in LANGS:
        return remembered, False
    return from_accept_language(accept_language), False


def t(lang: str, key: str, **values: object) -> str:
    """A UI string; ``values`` fill its {placeholders}."""
    text = _S[key][_col(lang)]
    return text.format(**values) if values else text


def label(lang: str, kind: str, code: str | None) -> str:
    """Human label of a vocabulary code (status, sector, owner_type, country, language)."""
    if kind == "country":
        return country(lang, code)
    if not code:
        return ""
    row = LABELS[kind].get(code)
    return row[_col(lang)] if row else code


def widget_strings() -> dict[str, dict[str, Any]]:
    """What the widget needs per language: its sentences and the labels results show."""
    return {
        lang: {
            **{k: _S[k][_col(lang)] for k in WIDGET_KEYS},
            "status": {code: row[_col(lang)] for code, row in STATUS.items()},
            "source": {code: row[_col(lang)] for code, row in SOURCE.items()},
            "country": {code: country(lang, code) for code in COUNTRIES},
        }
        for lang in LANGS
    }


def all_keys() -> list[str]:
    return list(_S)


def write_widget_strings(path: str | None = None) -> None:
    """Rewrite the STRINGS block of static/erfa-widget.js after editing strings here."""
    import json
    import re
    from pathlib import Path

    js = Path(path or Path(__file__).parent / "static" / "erfa-widget.js")
    block = json.dumps(widget_strings(), ensure_ascii=False, indent=1).replace("\n", "\n  ")
    text = re.sub(
        r"(/\*STRINGS\*/\n).*?(\n  /\*END STRINGS\*/)",
        lambda m: f"{m[1]}  var STRINGS = {block};{m[2]}",
        js.read_text(encoding="utf-8"),
        flags=re.S,
    )
    js.write_text(text, encoding="utf-8")


if __name__ == "__main__":  # python -m erfa.service.pages.i18n
    write_widget_strings()

/* <erfa-search>: erfa's search for intranet portals, as one script and one custom element.

     <script src="https://erfa.example/static/erfa-widget.js" defer></script>
     <erfa-search lang="sv" limit="5" country="NO,SE"></erfa-search>

   Attributes: api (erfa's address; default: where this script came from), lang (nb, nn,
   sv, da, en; default: the page's lang), limit (1-20, default 5), q (a need to search at
   once), and the filters country, language, sector, status, owner_type, organisation,
   year_from, year_to (comma-separated, as in the API). The portal's origin must be in
   erfa's ERFA_CORS_ORIGINS.

   Everything renders in a shadow root, so the portal's CSS cannot break the widget and
   the widget's CSS cannot leak into the portal. Results are built with DOM calls and
   textContent only, never innerHTML, so no text from the registry can become markup.
   No dependencies, no build step, no cookies (requests go without credentials). */
(function () {
  "use strict";
  if (!window.customElements || window.customElements.get("erfa-search")) return;

  /*STRINGS*/
  var STRINGS = {
   "nb": {
    "question": "Hva vil dere bruke KI til?",
    "search_button": "Søk",
    "searching": "Søker …",
    "n_results": [
     "{n} treff",
     "{n} treff"
    ],
    "no_close": "Ingen prosjekter passer godt til dette behovet. Under ser du de nærmeste, men ingen av dem handler egentlig om det dere beskriver. Prøv å beskrive behovet på en annen måte – eller meld inn deres eget prosjekt.",
    "widget_error": "Kunne ikke hente treff fra erfa. Prøv igjen senere.",
    "all_results": "Se alle treff i erfa",
    "opens_new_tab": "(åpnes i ny fane)",
    "close_mark": "Nært treff",
    "also_in": "Også registrert i",
    "widget_origin": "erfa kan ikke vises her: nettstedet {origin} har ikke fått tilgang ennå. Be den som drifter erfa, om å legge til {origin} i ERFA_CORS_ORIGINS.",
    "plural": "(n != 1)",
    "status": {
     "planned": "Planlagt",
     "in_development": "Under utvikling",
     "pilot": "Pilot",
     "implemented": "I bruk",
     "completed": "Fullført",
     "discontinued": "Avviklet"
    },
    "source": {
     "digdir": "Digdirs oversikt over KI-prosjekter",
     "pstw": "Public Sector Tech Watch (EU)",
     "ipsx": "Innovative Public Services Explorer (JRC)",
     "aiwatch": "AI Watch (JRC)",
     "submission": "Meldt inn til erfa",
     "demo": "erfas demodata",
     "uk_atrs": "Britisk register for algoritmisk åpenhet (ATRS)",
     "us_inventory": "USAs føderale oversikt over KI-bruk"
    },
    "country": {
     "NO": "Norge",
     "SE": "Sverige",
     "DK": "Danmark",
     "FI": "Finland",
     "IS": "Island",
     "AL": "Albania",
     "AT": "Østerrike",
     "BA": "Bosnia-Hercegovina",
     "BE": "Belgia",
     "BG": "Bulgaria",
     "CH": "Sveits",
     "CY": "Kypros",
     "CZ": "Tsjekkia",
     "DE": "Tyskland",
     "EE": "Estland",
     "ES": "Spania",
     "FR": "Frankrike",
     "GB": "Storbritannia",
     "GR": "Hellas",
     "HR": "Kroatia",
     "HU": "Ungarn",
     "IE": "Irland",
     "IT": "Italia",
     "LI": "Liechtenstein",
     "LT": "Litauen",
     "LU": "Luxemburg",
     "LV": "Latvia",
     "MD": "Moldova",
     "ME": "Montenegro",
     "MK": "Nord-Makedonia",
     "MT": "Malta",
     "NL": "Nederland",
     "PL": "Polen",
     "PT": "Portugal",
     "RO": "Romania",
     "RS": "Serbia",
     "SI": "Slovenia",
     "SK": "Slovakia",
     "TR": "Tyrkia",
     "UA": "Ukraina",
     "US": "USA",
     "XK": "Kosovo"
    }
   },
   "nn": {
    "question": "Kva vil de bruke KI til?",
    "search_button": "Søk",
    "searching": "Søkjer …",
    "n_results": [
     "{n} treff",
     "{n} treff"
    ],
    "no_close": "Ingen prosjekt passar godt til dette behovet. Under ser du dei næraste, men ingen av dei handlar eigentleg om det de skildrar. Prøv å skildre behovet på ein annan måte – eller meld inn dykkar eige prosjekt.",
    "widget_error": "Kunne ikkje hente treff frå erfa. Prøv igjen seinare.",
    "all_results": "Sjå alle treff i erfa",
    "opens_new_tab": "(blir opna i ny fane)",
    "close_mark": "Nært treff",
    "also_in": "Også registrert i",
    "widget_origin": "erfa kan ikkje visast her: nettstaden {origin} har ikkje fått tilgang enno. Be den som driftar erfa, om å leggje til {origin} i ERFA_CORS_ORIGINS.",
    "plural": "(n != 1)",
    "status": {
     "planned": "Planlagt",
     "in_development": "Under utvikling",
     "pilot": "Pilot",
     "implemented": "I bruk",
     "completed": "Fullført",
     "discontinued": "Avvikla"
    },
    "source": {
     "digdir": "Digdir si oversikt over KI-prosjekt",
     "pstw": "Public Sector Tech Watch (EU)",
     "ipsx": "Innovative Public Services Explorer (JRC)",
     "aiwatch": "AI Watch (JRC)",
     "submission": "Meldt inn til erfa",
     "demo": "demodata i erfa",
     "uk_atrs": "Britisk register for algoritmisk openheit (ATRS)",
     "us_inventory": "Den føderale oversikta over KI-bruk i USA"
    },
    "country": {
     "NO": "Noreg",
     "SE": "Sverige",
     "DK": "Danmark",
     "FI": "Finland",
     "IS": "Island",
     "AL": "Albania",
     "AT": "Austerrike",
     "BA": "Bosnia-Hercegovina",
     "BE": "Belgia",
     "BG": "Bulgaria",
     "CH": "Sveits",
     "CY": "Kypros",
     "CZ": "Tsjekkia",
     "DE": "Tyskland",
     "EE": "Estland",
     "ES": "Spania",
     "FR": "Frankrike",
     "GB": "Storbritannia",
     "GR": "Hellas",
     "HR": "Kroatia",
     "HU": "Ungarn",
     "IE": "Irland",
     "IT": "Italia",
     "LI": "Liechtenstein",
     "LT": "Litauen",
     "LU": "Luxembourg",
     "LV": "Latvia",
     "MD": "Moldova",
     "ME": "Montenegro",
     "MK": "Nord-Makedonia",
     "MT": "Malta",
     "NL": "Nederland",
     "PL": "Polen",
     "PT": "Portugal",
     "RO": "Romania",
     "RS": "Serbia",
     "SI": "Slovenia",
     "SK": "Slovakia",
     "TR": "Tyrkia",
     "UA": "Ukraina",
     "US": "USA",
     "XK": "Kosovo"
    }
   },
   "sv": {
    "question": "Vad vill ni använda AI till?",
    "search_button": "Sök",
    "searching": "Söker …",
    "n_results": [
     "{n} träff",
     "{n} träffar"
    ],
    "no_close": "Inget projekt passar riktigt bra för det här behovet. Nedan ser du de närmaste, men inget av dem handlar egentligen om det ni beskriver. Prova att beskriva behovet på ett annat sätt – eller skicka in ert eget projekt.",
    "widget_error": "Det gick inte att hämta träffar från erfa. Försök igen senare.",
    "all_results": "Se alla träffar i erfa",
    "opens_new_tab": "(öppnas i ny flik)",
    "close_mark": "Nära träff",
    "also_in": "Finns också i",
    "widget_origin": "erfa kan inte visas här: webbplatsen {origin} har inte fått åtkomst än. Be den som driftar erfa att lägga till {origin} i ERFA_CORS_ORIGINS.",
    "plural": "(n != 1)",
    "status": {
     "planned": "Planerat",
     "in_development": "Under utveckling",
     "pilot": "Pilot",
     "implemented": "I drift",
     "completed": "Avslutat",
     "discontinued": "Avvecklat"
    },
    "source": {
     "digdir": "Digdirs översikt över AI-projekt i Norge",
     "pstw": "Public Sector Tech Watch (EU)",
     "ipsx": "Innovative Public Services Explorer (JRC)",
     "aiwatch": "AI Watch (JRC)",
     "submission": "Inskickat till erfa",
     "demo": "erfas demodata",
     "uk_atrs": "Brittiska registret för algoritmisk transparens (ATRS)",
     "us_inventory": "USA:s federala förteckning över AI-användning"
    },
    "country": {
     "NO": "Norge",
     "SE": "Sverige",
     "DK": "Danmark",
     "FI": "Finland",
     "IS": "Island",
     "AL": "Albanien",
     "AT": "Österrike",
     "BA": "Bosnien och Hercegovina",
     "BE": "Belgien",
     "BG": "Bulgarien",
     "CH": "Schweiz",
     "CY": "Cypern",
     "CZ": "Tjeckien",
     "DE": "Tyskland",
     "EE": "Estland",
     "ES": "Spanien",
     "FR": "Frankrike",
     "GB": "Storbritannien",
     "GR": "Grekland",
     "HR": "Kroatien",
     "HU": "Ungern",
     "IE": "Irland",
     "IT": "Italien",
     "LI": "Liechtenstein",
     "LT": "Litauen",
     "LU": "Luxemburg",
     "LV": "Lettland",
     "MD": "Moldavien",
     "ME": "Montenegro",
     "MK": "Nordmakedonien",
     "MT": "Malta",
     "NL": "Nederländerna",
     "PL": "Polen",
     "PT": "Portugal",
     "RO": "Rumänien",
     "RS": "Serbien",
     "SI": "Slovenien",
     "SK": "Slovakien",
     "TR": "Turkiet",
     "UA": "Ukraina",
     "US": "USA",
     "XK": "Kosovo"
    }
   },
   "da": {
    "question": "Hvad vil I bruge AI til?",
    "search_button": "Søg",
    "searching": "Søger …",
    "n_results": [
     "{n} resultat",
     "{n} resultater"
    ],
    "no_close": "Ingen projekter passer rigtig godt til dette behov. Herunder ser du de nærmeste, men ingen af dem handler egentlig om det, I beskriver. Prøv at beskrive behovet på en anden måde – eller indberet jeres eget projekt.",
    "widget_error": "Resultaterne kunne ikke hentes fra erfa. Prøv igen senere.",
    "all_results": "Se alle resultater i erfa",
    "opens_new_tab": "(åbner i en ny fane)",
    "close_mark": "Godt match",
    "also_in": "Findes også i",
    "widget_origin": "erfa kan ikke vises her: webstedet {origin} har ikke fået adgang endnu. Bed den, der driver erfa, om at tilføje {origin} til ERFA_CORS_ORIGINS.",
    "plural": "(n != 1)",
    "status": {
     "planned": "Planlagt",
     "in_development": "Under udvikling",
     "pilot": "Pilot",
     "implemented": "I drift",
     "completed": "Afsluttet",
     "discontinued": "Nedlagt"
    },
    "source": {
     "digdir": "Digdirs oversigt over AI-projekter i Norge",
     "pstw": "Public Sector Tech Watch (EU)",
     "ipsx": "Innovative Public Services Explorer (JRC)",
     "aiwatch": "AI Watch (JRC)",
     "submission": "Indberettet til erfa",
     "demo": "erfas demodata",
     "uk_atrs": "Britisk register for algoritmisk gennemsigtighed (ATRS)",
     "us_inventory": "USA's føderale oversigt over brug af AI"
    },
    "country": {
     "NO": "Norge",
     "SE": "Sverige",
     "DK": "Danmark",
     "FI": "Finland",
     "IS": "Island",
     "AL": "Albanien",
     "AT": "Østrig",
     "BA": "Bosnien-Hercegovina",
     "BE": "Belgien",
     "BG": "Bulgarien",
     "CH": "Schweiz",
     "CY": "Cypern",
     "CZ": "Tjekkiet",
     "DE": "Tyskland",
     "EE": "Estland",
     "ES": "Spanien",
     "FR": "Frankrig",
     "GB": "Storbritannien",
     "GR": "Grækenland",
     "HR": "Kroatien",
     "HU": "Ungarn",
     "IE": "Irland",
     "IT": "Italien",
     "LI": "Liechtenstein",
     "LT": "Litauen",
     "LU": "Luxembourg",
     "LV": "Letland",
     "MD": "Moldova",
     "ME": "Montenegro",
     "MK": "Nordmakedonien",
     "MT": "Malta",
     "NL": "Nederlandene",
     "PL": "Polen",
     "PT": "Portugal",
     "RO": "Rumænien",
     "RS": "Serbien",
     "SI": "Slovenien",
     "SK": "Slovakiet",
     "TR": "Tyrkiet",
     "UA": "Ukraine",
     "US": "USA",
     "XK": "Kosovo"
    }
   },
   "en": {
    "question": "What do you want to use AI for?",
    "search_button": "Search",
    "searching": "Searching …",
    "n_results": [
     "{n} result",
     "{n} results"
    ],
    "no_close": "No project is a close match for this need. Below are the nearest ones, but none of them is really about what you describe. Try describing the need differently – or submit your own project.",
    "widget_error": "Results could not be loaded from erfa. Try again later.",
    "all_results": "See all results in erfa",
    "opens_new_tab": "(opens in a new tab)",
    "close_mark": "Close match",
    "also_in": "Also listed in",
    "widget_origin": "erfa cannot be shown here: the site {origin} has not been given access yet. Ask whoever runs erfa to add {origin} to ERFA_CORS_ORIGINS.",
    "plural": "(n != 1)",
    "status": {
     "planned": "Planned",
     "in_development": "In development",
     "pilot": "Pilot",
     "implemented": "In use",
     "completed": "Completed",
     "discontinued": "Discontinued"
    },
    "source": {
     "digdir": "Digdir's overview of AI projects in Norway",
     "pstw": "Public Sector Tech Watch (EU)",
     "ipsx": "Innovative Public Services Explorer (JRC)",
     "aiwatch": "AI Watch (JRC)",
     "submission": "Submitted to erfa",
     "demo": "erfa's demo data",
     "uk_atrs": "UK Algorithmic Transparency Recording Standard (ATRS)",
     "us_inventory": "US federal AI use case inventory"
    },
    "country": {
     "NO": "Norway",
     "SE": "Sweden",
     "DK": "Denmark",
     "FI": "Finland",
     "IS": "Iceland",
     "AL": "Albania",
     "AT": "Austria",
     "BA": "Bosnia & Herzegovina",
     "BE": "Belgium",
     "BG": "Bulgaria",
     "CH": "Switzerland",
     "CY": "Cyprus",
     "CZ": "Czechia",
     "DE": "Germany",
     "EE": "Estonia",
     "ES": "Spain",
     "FR": "France",
     "GB": "United Kingdom",
     "GR": "Greece",
     "HR": "Croatia",
     "HU": "Hungary",
     "IE": "Ireland",
     "IT": "Italy",
     "LI": "Liechtenstein",
     "LT": "Lithuania",
     "LU": "Luxembourg",
     "LV": "Latvia",
     "MD": "Moldova",
     "ME": "Montenegro",
     "MK": "North Macedonia",
     "MT": "Malta",
     "NL": "Netherlands",
     "PL": "Poland",
     "PT": "Portugal",
     "RO": "Romania",
     "RS": "Serbia",
     "SI": "Slovenia",
     "SK": "Slovakia",
     "TR": "Türkiye",
     "UA": "Ukraine",
     "US": "United States",
     "XK": "Kosovo"
    }
   }
  };
  /*END STRINGS*/
  // Each language's plural rule: its catalog's Plural-Forms expression, written here as code.
  /*PLURALS*/
  var PLURAL = {
    "nb": function (n) { return Number((n != 1)); },
    "nn": function (n) { return Number((n != 1)); },
    "sv": function (n) { return Number((n != 1)); },
    "da": function (n) { return Number((n != 1)); },
    "en": function (n) { return Number((n != 1)); }
  };
  /*END PLURALS*/

  // The form of a plural string (a list of forms in gettext order) for n, with {n} filled in.
  function plural(lang, forms, n) {
    if (typeof forms === "string") forms = [forms];
    var rule = PLURAL[lang] || PLURAL.en;
    var i = rule(n);
    var form = forms[i] !== undefined ? forms[i] : forms[forms.length - 1];
    return form.replace("{n}", String(n));
  }

  var script = document.currentScript;
  var DEFAULT_API = script && script.src ? new URL(script.src, document.baseURI).origin : "";
  var FILTERS = ["country", "language", "sector", "status", "owner_type", "organisation", "year_from", "year_to"];
  var ALIASES = { no: "nb", nb: "nb", nn: "nn", sv: "sv", da: "da", en: "en" };
  var counter = 0;

  var CSS = [
    ":host{all:initial;display:block;contain:content;font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','DejaVu Sans',Arial,sans-serif;font-size:1rem;line-height:1.5;color:#1b1f24}",
    ":host([hidden]){display:none}",
    "*,*::before,*::after{box-sizing:border-box}",
    ".erfa{border:1px solid #c9d1db;border-radius:6px;padding:.9em;background:#fff}",
    "label{display:block;font-weight:700;color:#13315c;font-size:1.05em;margin:0 0 .35em}",
    ".row{display:flex;flex-wrap:wrap;gap:.5em}",
    "input{flex:1 1 10em;min-width:0;font:inherit;color:#1b1f24;background:#fff;border:2px solid #5b6676;border-radius:6px;padding:.45em .6em;margin:0}",
    "button{font:inherit;font-weight:600;cursor:pointer;border:2px solid #0f6e66;border-radius:6px;background:#0f6e66;color:#fff;padding:.45em 1em;margin:0}",
    "button:hover{background:#0b5550}",
    "input:focus-visible,button:focus-visible{outline:3px solid #ffdd00;outline-offset:0;box-shadow:inset 0 0 0 2px #0b0c0c}",
    "a{color:#0b57a4;text-underline-offset:.15em}",
    "a:focus-visible{outline:3px solid transparent;color:#0b0c0c;background:#ffdd00;box-shadow:0 -2px #ffdd00,0 4px #0b0c0c;text-decoration:none}",
    ".status{margin:.6em 0 0;color:#4b5563;font-size:.9em}",
    ".status:empty{display:none}",
    ".notice{margin:.5em 0 0;padding:.45em .7em;background:#fff6d9;border-left:4px solid #b58100;font-size:.9em}",
    ".error{color:#b3261e;font-weight:600}",
    "ol{list-style:none;margin:.25em 0 0;padding:0}",
    "li{padding:.55em 0;border-bottom:1px solid #c9d1db}",
    "li:last-child{border-bottom:0}",
    ".title{font-weight:600;font-size:1.02em}",
    ".meta{color:#4b5563;font-size:.88em;margin:.1em 0 0}",
    ".close{display:inline-block;margin-left:.4em;padding:0 .45em;border:1px solid currentColor;border-radius:999px;color:#0d5e2f;background:#e7f5ec;font-size:.8em;font-weight:600}",
    ".snippet{margin:.2em 0 0;font-size:.92em}",
    "mark{background:#fff0a8;color:inherit}",
    ".more{margin:.5em 0 0;font-weight:600;font-size:.92em}",
    ".vh{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}"
  ].join("\n");

  var sheet = null;
  function styles(root) {
    // A constructed sheet is shared by every instance and is not an inline <style>, so a
    // portal whose CSP forbids inline styles still shows the widget styled.
    try {
      if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      var style = document.createElement("style");
      style.textContent = CSS;
      root.appendChild(style);
    }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  function years(r) {
    if (r.start_year && r.end_year) return r.start_year === r.end_year ? String(r.start_year) : r.start_year + "–" + r.end_year;
    return r.start_year ? String(r.start_year) : (r.end_year ? String(r.end_year) : "");
  }

  function snippet(text, marks) {
    var p = el("p", { "class": "snippet" });
    var pos = 0;
    (marks || []).slice().sort(function (a, b) { return a[0] - b[0]; }).forEach(function (m) {
      if (m[0] < pos || m[1] > text.length || m[0] >= m[1]) return;
      if (m[0] > pos) p.appendChild(document.createTextNode(text.slice(pos, m[0])));
      p.appendChild(el("mark", null, text.slice(m[0], m[1])));
      pos = m[1];
    });
    if (pos < text.length) p.appendChild(document.createTextNode(text.slice(pos)));
    return p;
  }

  class ErfaSearch extends HTMLElement {
    static get observedAttributes() { return ["q", "lang", "limit", "api"].concat(FILTERS); }

    constructor() {
      super();
      this._root = this.attachShadow({ mode: "open" });
      this._request = 0;
    }

    get api() { return (this.getAttribute("api") || DEFAULT_API).replace(/\/+$/, ""); }

    get lang2() {
      var tag = this.getAttribute("lang") || (this.closest("[lang]") || document.documentElement).getAttribute("lang") || "";
      return ALIASES[tag.toLowerCase().split("-")[0]] || "en";
    }

    get limit() {
      var n = parseInt(this.getAttribute("limit") || "5", 10);
      return isNaN(n) ? 5 : Math.min(20, Math.max(1, n));
    }

    connectedCallback() {
      if (!this._box) this._render();
      var q = (this.getAttribute("q") || "").trim();
      if (q && this._input.value !== q) { this._input.value = q; }
      if (q) this.search(q);
    }

    attributeChangedCallback(name, old, value) {
      if (!this._box || old === value) return;
      var q = name === "q" ? (value || "").trim() : this._input.value.trim();
      if (name === "lang") this._render();
      if (name === "q") this._input.value = q;
      if (q) this.search(q);
    }

    _t(key) { return (STRINGS[this.lang2] || STRINGS.en)[key]; }

    _render() {
      var id = "erfa-q-" + (++counter);
      var root = this._root;
      while (root.firstChild) root.removeChild(root.firstChild);
      styles(root);
      var box = el("div", { "class": "erfa", lang: this.lang2 });
      var form = el("form", { role: "search" });
      form.appendChild(el("label", { "for": id }, this._t("question")));
      var row = el("div", { "class": "row" });
      var input = el("input", { id: id, type: "search", name: "q", maxlength: "1000", autocomplete: "off" });
      row.appendChild(input);
      row.appendChild(el("button", { type: "submit" }, this._t("search_button")));
      form.appendChild(row);
      var self = this;
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var q = input.value.trim();
        if (q) self.search(q);
      });
      box.appendChild(form);
      this._status = el("p", { "class": "status", role: "status", "aria-live": "polite" });
      box.appendChild(this._status);
      this._results = el("div", { "class": "results" });
      box.appendChild(this._results);
      root.appendChild(box);
      this._box = box;
      this._input = input;
    }

    _url(q) {
      var params = new URLSearchParams({ q: q, limit: String(this.limit) });
      var self = this;
      FILTERS.forEach(function (f) { var v = self.getAttribute(f); if (v) params.set(f, v); });
      return this.api + "/search?" + params.toString();
    }

    _link(path, params) {
      var query = new URLSearchParams(params);
      query.set("lang", this.lang2);
      return this.api + path + "?" + query.toString();
    }

    search(q) {
      var ticket = ++this._request;
      var self = this;
      this._status.className = "status";
      this._status.textContent = this._t("searching");
      this.setAttribute("aria-busy", "true");
      return fetch(this._url(q), { mode: "cors", credentials: "omit", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (body) { if (ticket === self._request) self._show(q, body); })
        .catch(function (err) {
          return self._refusedOrigin(err).then(function (origin) {
            if (ticket !== self._request) return;
            while (self._results.firstChild) self._results.removeChild(self._results.firstChild);
            self._status.className = "status error";
            self._status.textContent = origin ? self._t("widget_origin").split("{origin}").join(origin) : self._t("widget_error");
          });
        })
        .then(function () { if (ticket === self._request) self.removeAttribute("aria-busy"); });
    }

    /* Why a request failed, as far as a page can tell: a browser hides a CORS refusal behind the same
       TypeError as a network failure. If erfa still answers a "no-cors" request (whose answer the page
       may not read, so CORS does not apply), erfa is up and this page's origin is not among
       ERFA_CORS_ORIGINS: resolve with that origin (and say it in the console for whoever debugs the
       portal), else with null (erfa unreachable, or an HTTP error: "try again later" is then true). */
    _refusedOrigin(err) {
      var origin = window.location.origin;
      if (!(err instanceof TypeError) || !origin || origin === "null" || origin === new URL(this.api, document.baseURI).origin) {
        return Promise.resolve(null);
      }
      var api = this.api;
      return fetch(api + "/healthz", { mode: "no-cors", credentials: "omit", cache: "no-store" })
        .then(function () {
          if (window.console) {
            console.error("erfa: " + api + " does not let " + origin + " read its answers (CORS). Ask erfa's operator to add " +
                          origin + " to ERFA_CORS_ORIGINS (a comma-separated list of origins).");
          }
          return origin;
        }, function () { return null; });
    }

    _show(q, body) {
      var lang = STRINGS[this.lang2] ? this.lang2 : "en";
      var S = STRINGS[lang];
      var results = this._results;
      while (results.firstChild) results.removeChild(results.firstChild);
      var items = body.results || [];
      this._status.textContent = plural(lang, S.n_results, items.length);
      if (body.close_match === false) results.appendChild(el("p", { "class": "notice" }, S.no_close));
      var ol = el("ol");
      var self = this;
      items.forEach(function (r) {
        var li = el("li", { "class": "result" });
        var title = el("div", { "class": "title" });
        var a = el("a", { href: self._link("/project/" + encodeURIComponent(r.id), { q: q }), target: "_blank", rel: "noopener" }, r.title);
        if (r.language) a.setAttribute("lang", r.language);
        a.appendChild(el("span", { "class": "vh" }, " " + S.opens_new_tab));
        title.appendChild(a);
        if (r.close_match) title.appendChild(el("span", { "class": "close" }, S.close_mark));
        li.appendChild(title);
        var meta = [r.organisation, S.country[r.country] || r.country, S.status[r.status] || r.status, years(r)]
          .filter(function (x) { return x; }).join(" · ");
        if (meta) li.appendChild(el("p", { "class": "meta" }, meta));
        if (r.snippet) {
          var p = snippet(r.snippet, r.marks);
          if (r.language) p.setAttribute("lang", r.language);
          li.appendChild(p);
        }
        if (r.twins && r.twins.length) {
          var also = el("p", { "class": "meta" }, S.also_in + ": ");
          r.twins.forEach(function (t, i) {
            var ta = el("a", { href: self._link("/project/" + encodeURIComponent(t.id), { q: q }), target: "_blank", rel: "noopener" },
                        S.source[t.source] || t.source);
            if (t.language) ta.setAttribute("lang", t.language);
            also.appendChild(ta);
            if (i < r.twins.length - 1) also.appendChild(document.createTextNode(", "));
          });
          li.appendChild(also);
        }
        ol.appendChild(li);
      });
      results.appendChild(ol);
      var params = { q: q };
      FILTERS.forEach(function (f) { var v = self.getAttribute(f); if (v) params[f] = v; });
      var more = el("p", { "class": "more" });
      var all = el("a", { href: self._link("/", params), target: "_blank", rel: "noopener" }, S.all_results);
      all.appendChild(el("span", { "class": "vh" }, " " + S.opens_new_tab));
      more.appendChild(all);
      results.appendChild(more);
    }
  }

  window.customElements.define("erfa-search", ErfaSearch);
})();

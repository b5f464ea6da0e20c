/* erfa's submission form: checks the fields, posts JSON to POST /submissions and shows a
   receipt. No dependencies; loaded only on /submit. The messages come from the page
   (#submit-strings) so they are in the user's language; the API's own English messages
   are never shown, only mapped to the field they name. */
(function () {
  "use strict";
  var form = document.getElementById("submit-form");
  if (!form) return;
  var S = JSON.parse(document.getElementById("submit-strings").textContent);
  var summary = document.getElementById("error-summary");
  var list = document.getElementById("error-list");
  var status = document.getElementById("form-status");
  var button = document.getElementById("submit-button");
  var YEAR = /^\d{4}$/;
  var LINK = /^https?:\/\/[^\s\/.]+\.[^\s]+$|^https?:\/\/localhost\S*$/i;
  var SCHEME = /^[a-z][a-z0-9+.\-]*:(?!\d)/i;
  var LINKS = ["link", "website"];

  /* "fjordvik.kommune.no/ki" becomes "https://fjordvik.kommune.no/ki" (issue 12): completed, shown
     under the field for the user to confirm, never refused. The server completes the same way. */
  function completed(v) {
    if (!v || SCHEME.test(v)) return v;
    if (v.indexOf("//") === 0) return "https:" + v;
    return /^[^\s\/]+\.[^\s\/.]{2,}/.test(v) ? "https://" + v : v;
  }

  function complete(name) {
    var input = form.elements[name];
    var note = document.getElementById(input.id + "-note");
    var before = input.value.trim();
    var after = completed(before);
    if (after !== before) {
      input.value = after;
      if (note) note.textContent = S.link_completed.replace("{link}", after);
    } else if (note && !before) {
      note.textContent = "";
    }
  }
  LINKS.forEach(function (name) {
    form.elements[name].addEventListener("blur", function () { complete(name); });
  });

  function value(name) { return (form.elements[name].value || "").trim(); }
  function label(name) { return S["s_" + name] || name; }

  function clear() {
    list.textContent = "";
    summary.hidden = true;
    form.querySelectorAll(".field").forEach(function (f) {
      f.classList.remove("field--error");
      var err = f.querySelector(".field__error");
      if (err) { err.hidden = true; err.textContent = ""; }
      var input = f.querySelector("input, textarea, select");
      if (!err || !input) return;
      input.removeAttribute("aria-invalid");
      var hint = document.getElementById(input.id + "-hint");
      if (hint) input.setAttribute("aria-describedby", hint.id); else input.removeAttribute("aria-describedby");
    });
  }

  function check() {
    var errors = {};
    ["title", "organisation"].forEach(function (n) {
      if (!value(n)) errors[n] = S.err_required.replace("{field}", label(n));
    });
    ["start_year", "end_year"].forEach(function (n) {
      var v = value(n);
      if (v && (!YEAR.test(v) || +v < 1950 || +v > 2100)) errors[n] = S.err_year;
    });
    if (!errors.start_year && !errors.end_year && value("start_year") && value("end_year") &&
        +value("end_year") < +value("start_year")) errors.end_year = S.err_end_before_start;
    LINKS.forEach(function (n) {
      complete(n);
      if (value(n) && !LINK.test(value(n))) errors[n] = S.err_link;
    });
    return errors;
  }

  /* Map FastAPI's 422 detail ([{loc: ["body", field], msg, type}]) onto our own messages. */
  function fromServer(detail) {
    var errors = {};
    (Array.isArray(detail) ? detail : []).forEach(function (d) {
      var loc = d.loc || [];
      var name = loc[loc.length - 1];
      if (!form.elements[name] || errors[name]) return;
      var type = d.type || "";
      if (type === "missing" || type === "string_too_short") errors[name] = S.err_required.replace("{field}", label(name));
      else if (type === "string_too_long") errors[name] = S.err_too_long;
      else if (name === "link" || name === "website") errors[name] = S.err_link;
      else if (name === "end_year" && /before/.test(d.msg || "")) errors[name] = S.err_end_before_start;
      else if (/_year$/.test(name)) errors[name] = S.err_year;
      else errors[name] = S.err_invalid;
    });
    return errors;
  }

  function show(errors) {
    var first = null;
    Object.keys(errors).forEach(function (name) {
      var input = form.elements[name];
      var field = input.closest(".field");
      var err = field.querySelector(".field__error");
      err.textContent = errors[name]; err.hidden = false;
      field.classList.add("field--error");
      input.setAttribute("aria-invalid", "true");
      var described = [err.id].concat((input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
      input.setAttribute("aria-describedby", described.join(" "));
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "#" + input.id;
      a.textContent = errors[name];
      a.addEventListener("click", function (e) { e.preventDefault(); input.focus(); });
      li.appendChild(a); list.appendChild(li);
      if (!first) first = input;
    });
    summary.hidden = false;
    summary.focus();
  }

  function payload() {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      if (el.type === "checkbox") { body[el.name] = el.checked; return; }
      var v = el.value.trim();
      if (!v) return;
      body[el.name] = /_year$/.test(el.name) ? parseInt(v, 10) : v;
    });
    return body;
  }

  /* The addresses as stored (https:// added where it was missing), for the submitter to confirm. */
  function showLinks(data) {
    var dl = document.getElementById("receipt-links-list");
    dl.textContent = "";
    LINKS.forEach(function (n) {
      if (!data[n]) return;
      var dt = document.createElement("dt"); dt.textContent = label(n);
      var dd = document.createElement("dd");
      var a = document.createElement("a"); a.href = data[n]; a.textContent = data[n]; a.rel = "noopener noreferrer";
      dd.appendChild(a); dl.appendChild(dt); dl.appendChild(dd);
    });
    document.getElementById("receipt-links").hidden = !dl.childNodes.length;
  }

  function busy(on) {
    button.disabled = on;
    button.textContent = on ? S.sending : S.send;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clear();
    status.textContent = "";
    var errors = check();
    if (Object.keys(errors).length) { show(errors); return; }
    busy(true);
    fetch(form.getAttribute("data-endpoint"), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(payload())
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
    }).then(function (res) {
      busy(false);
      if (res.status === 201) {
        document.getElementById("submit-form-area").hidden = true;
        document.getElementById("receipt-id").textContent = res.body.id || "";
        var statusLink = document.getElementById("receipt-status");
        // relative unless the operator set ERFA_PUBLIC_URL: shown in full, as this page's address completes it
        var statusUrl = res.body.status_url ? new URL(res.body.status_url, window.location.href).href : "";
        statusLink.href = statusUrl;
        statusLink.textContent = statusUrl;
        showLinks(res.body.data || {});
        var receipt = document.getElementById("receipt");
        receipt.hidden = false;
        receipt.focus();
        window.scrollTo(0, 0);
      } else if (res.status === 422) {
        var errs = fromServer(res.body.detail);
        if (Object.keys(errs).length) show(errs); else status.textContent = S.err_invalid;
      } else if (res.status === 503 && /closed/.test(String(res.body.detail || ""))) {
        status.textContent = S.submit_closed;
      } else if (res.status === 429) {
        status.textContent = S.err_rate;
      } else {
        status.textContent = S.err_server;
      }
    }).catch(function () {
      busy(false);
      status.textContent = S.err_server;
    });
  });
})();

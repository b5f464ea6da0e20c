/* erfa's search page, made quicker for the keyboard and small screens. No dependencies;
   loaded only on a page with results. Everything here is an enhancement: without
   JavaScript the filters open with their own button (a native <details>), apply with
   the Apply button, and the "skip to results" link reaches the results.

   - From 48em (768 px) the filters are a side column, so their <details> is opened;
     below it they stay folded behind the "Filter" button, and the results come first.
   - A ticked box (or a chosen option) applies at once; a year applies on Enter or when
     focus leaves the two year fields. The page says so (#filters-auto) and the Apply
     button goes.
   - After a search (the page was loaded with a need) focus moves to the results heading,
     whose description is the result count, so a screen reader says what came back.
   - After a filter applied itself, focus stays where the person was: the box they ticked
     (or the year field) has focus again on the new page, and the new count is announced
     in a live region (#filters-live), so the next filter is one Tab away, not 35 (issue 21).
     The control is found again by its name and value: the new page may list it elsewhere. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var FOCUS_KEY = "erfa-filter-focus";

  var details = document.getElementById("filters");
  if (details) {
    var wide = window.matchMedia("(min-width: 48em)");
    var fit = function () { details.open = wide.matches; };
    fit();
    if (wide.addEventListener) wide.addEventListener("change", fit);
    else if (wide.addListener) wide.addListener(fit);
  }

  var form = details && details.querySelector("form");
  if (form) {
    var submit = function () {
      remember(document.activeElement);
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    };
    var inYears = function (el) { return !!(el && el.closest && el.closest(".years")); };
    var yearsChanged = false;
    // Focus has settled once the event that moved it is over: submit when it left the years.
    var leaveYears = function () {
      window.setTimeout(function () {
        if (yearsChanged && !inYears(document.activeElement)) {
          yearsChanged = false;
          submit();
        }
      }, 0);
    };
    form.addEventListener("change", function (e) {
      var el = e.target;
      if (inYears(el)) { yearsChanged = true; leaveYears(); }
      else if (el.type === "checkbox" || el.type === "radio" || el.tagName === "SELECT") submit();
    });
    form.addEventListener("focusout", function (e) { if (inYears(e.target)) leaveYears(); });
    form.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && inYears(e.target)) { e.preventDefault(); yearsChanged = false; submit(); }
    });
    var apply = form.querySelector(".filters__apply");
    if (apply) apply.hidden = true;
    var auto = document.getElementById("filters-auto");
    if (auto) auto.hidden = false;
  }

  var heading = document.getElementById("results-h");
  if (restore()) return;
  if (heading && !window.location.hash && new URLSearchParams(window.location.search).get("q")) {
    heading.focus();
  }

  /* The filter control that had focus when the filters applied, for the next page. */
  function remember(el) {
    if (!el || !el.name || !form || el.form !== form) return;
    try {
      window.sessionStorage.setItem(FOCUS_KEY, JSON.stringify({ name: el.name, value: el.type === "checkbox" ? el.value : null }));
    } catch (e) { /* storage off: focus goes to the results heading as before */ }
  }

  /* Focus that control again and announce the new count; false when there is none to restore. */
  function restore() {
    var saved = null;
    try {
      saved = JSON.parse(window.sessionStorage.getItem(FOCUS_KEY) || "null");
      window.sessionStorage.removeItem(FOCUS_KEY);
    } catch (e) { return false; }
    if (!saved || !form) return false;
    var target = null;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!target && el.name === saved.name && (saved.value === null || el.value === saved.value)) target = el;
    });
    if (!target) return false;
    for (var d = target.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
    target.focus();
    var live = document.getElementById("filters-live");
    var summary = document.getElementById("results-summary");
    var notice = document.querySelector(".results .notice h3");
    if (live && summary) {
      // filled after load: a live region announces changes, not what it held when the page came
      window.setTimeout(function () {
        live.textContent = (notice ? notice.textContent + ". " : "") + summary.textContent;
      }, 250);
    }
    return true;
  }
})();

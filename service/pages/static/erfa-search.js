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
     whose description is the result count, so a screen reader says what came back. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

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
  if (heading && !window.location.hash && new URLSearchParams(window.location.search).get("q")) {
    heading.focus();
  }
})();

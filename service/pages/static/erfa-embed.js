/* erfa's /embed refused to a site not in ERFA_FRAME_ANCESTORS (service/pages/embedding.py): the
   page says so to the web editor; this says it in the browser console too, in English, where
   whoever debugs the portal looks first. */
(function () {
  "use strict";
  var note = document.getElementById("embed-refused");
  if (!note || !window.console) return;
  var origin = note.getAttribute("data-origin");
  console.error("erfa: " + origin + " may not show erfa's /embed in an iframe. Ask erfa's operator to add " +
                origin + " to ERFA_FRAME_ANCESTORS (a space- or comma-separated list of origins).");
})();

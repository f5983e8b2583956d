// The privacy center works without this file; with it, a page that comes back with
// errors (a full load or an htmx swap) puts the focus on its list of errors, so a
// screen reader reads them first.
(function () {
  "use strict";
  function focusErrors() {
    var summary = document.getElementById("errors");
    if (summary) {
      summary.focus();
    }
  }
  document.addEventListener("DOMContentLoaded", focusErrors);
  document.addEventListener("htmx:afterSettle", focusErrors);
})();

/* Notification settings: mark the rows you changed and say the page has unsaved changes.
 * A static file (the CSP forbids inline scripts); the pages work without it. */
(function () {
  "use strict";

  function track(form) {
    var hint = form.querySelector("[data-unsaved-hint]");
    var switches = Array.prototype.slice.call(form.querySelectorAll("input[type=checkbox]"));
    switches.forEach(function (input) {
      input.dataset.initial = input.checked ? "1" : "0";
    });

    function refresh() {
      var any = false;
      form.querySelectorAll("[data-pref-grid] tbody tr").forEach(function (row) {
        var changed = Array.prototype.some.call(
          row.querySelectorAll("input[type=checkbox]"),
          function (input) { return (input.checked ? "1" : "0") !== input.dataset.initial; }
        );
        row.classList.toggle("hd-changed", changed);
        var note = row.querySelector(".hd-unsaved");
        if (note) note.hidden = !changed;
        any = any || changed;
      });
      switches.forEach(function (input) {
        if (!input.closest("[data-pref-grid]") && (input.checked ? "1" : "0") !== input.dataset.initial) any = true;
      });
      if (hint) hint.hidden = !any;
    }

    form.addEventListener("change", refresh);
  }

  document.querySelectorAll("[data-pref-form]").forEach(track);
})();

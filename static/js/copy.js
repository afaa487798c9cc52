/* Copy buttons: `<button data-copy="<id>" hidden>` copies the value (or text) of the
 * element with that id and says so in `[data-copy-status="<id>"]`, in the words of the
 * button's `data-copied` and `data-copy-failed` (the page translates them; English without).
 *
 * Progressive enhancement: the buttons are hidden until this file shows them, and the text
 * they copy is always on the page to select by hand. A static file: the CSP forbids
 * inline scripts. Loaded by more than one section of a page, it binds each button once.
 */
(function () {
  "use strict";

  function say(id, words) {
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (status) status.textContent = words;
  }

  // The page's words (translated, on the button), else these English ones.
  function wordsOf(button, attribute, english) {
    return button.getAttribute(attribute) || english;
  }

  function bySelecting(source) {
    if (typeof source.select !== "function") return false;
    source.focus();
    source.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function copy(button) {
    var id = button.getAttribute("data-copy");
    var source = document.getElementById(id);
    if (!source) return;
    var text = "value" in source ? source.value : source.textContent;
    var done = function () { say(id, wordsOf(button, "data-copied", "Copied.")); };
    var failed = function () {
      if (bySelecting(source)) done();
      else say(id, wordsOf(button, "data-copy-failed",
        "Could not copy: the text is selected, press Ctrl+C (\u2318C on a Mac)."));
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, failed);
    } else {
      failed();
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (button.hasAttribute("data-copy-ready")) return;
    button.setAttribute("data-copy-ready", "");
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });
})();

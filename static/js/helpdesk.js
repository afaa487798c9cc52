/* Helpdesk keyboard and small conveniences. A static file: the CSP forbids inline scripts.
 *
 *   /            focus the search box
 *   j / k, ↓ / ↑ move through the ticket table; Enter or o opens the ticket
 *   n / p        next / previous page
 *   x            select the highlighted row for the bulk bar
 *   r            focus the reply editor (ticket page)
 *   Ctrl+Enter   send the reply (Cmd+Enter on a Mac)
 *   Esc          leave a text field
 *
 * Everything works without this file; it only adds shortcuts.
 */
(function () {
  "use strict";

  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    return target.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-hd-rows] tbody tr[data-href]"));
  }

  function activeIndex(list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].classList.contains("hd-row-active")) return i;
    }
    return -1;
  }

  function activate(list, index) {
    if (!list.length) return;
    index = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (row) {
      row.classList.remove("hd-row-active");
      row.removeAttribute("aria-selected");
    });
    var row = list[index];
    row.classList.add("hd-row-active");
    row.setAttribute("aria-selected", "true");
    var link = row.querySelector("a.hd-subject");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey) return;

    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && event.target.matches("[data-reply]")) {
      var send = document.querySelector("[data-send]");
      if (send) {
        event.preventDefault();
        send.click();
      }
      return;
    }
    if (event.key === "Escape" && typing(event.target)) {
      event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || typing(event.target)) return;

    var list;
    switch (event.key) {
      case "/":
        var search = document.getElementById("hd-search");
        if (search) {
          event.preventDefault();
          search.focus();
          search.select();
        }
        break;
      case "j":
      case "ArrowDown":
        list = rows();
        if (list.length) {
          event.preventDefault();
          activate(list, activeIndex(list) + 1);
        }
        break;
      case "k":
      case "ArrowUp":
        list = rows();
        if (list.length) {
          event.preventDefault();
          var i = activeIndex(list);
          activate(list, i < 0 ? 0 : i - 1);
        }
        break;
      case "Enter":
      case "o":
        list = rows();
        var current = activeIndex(list);
        if (current >= 0 && event.target.tagName !== "A" && event.target.tagName !== "BUTTON") {
          event.preventDefault();
          window.location.href = list[current].dataset.href;
        } else if (current >= 0 && event.key === "o") {
          window.location.href = list[current].dataset.href;
        }
        break;
      case "r":
        var reply = document.querySelector("[data-reply]");
        if (reply) {
          event.preventDefault();
          reply.focus();
        }
        break;
      case "x":
        list = rows();
        var picked = activeIndex(list);
        var box = picked >= 0 ? list[picked].querySelector("[data-bulk-pick]") : null;
        if (box) {
          event.preventDefault();
          box.checked = !box.checked;
          box.dispatchEvent(new Event("change", { bubbles: true }));
        }
        break;
      case "n":
        var next = document.querySelector("[data-page-next]");
        if (next) window.location.href = next.href;
        break;
      case "p":
        var prev = document.querySelector("[data-page-prev]");
        if (prev) window.location.href = prev.href;
        break;
    }
  });

  // A click anywhere on a row opens its ticket (the subject stays a real link).
  document.addEventListener("click", function (event) {
    var row = event.target.closest("[data-hd-rows] tbody tr[data-href]");
    if (!row || event.target.closest("a, button, input, select, label")) return;
    if (window.getSelection && String(window.getSelection())) return; // selecting text
    if (event.ctrlKey || event.metaKey) {
      window.open(row.dataset.href, "_blank");
    } else {
      window.location.href = row.dataset.href;
    }
  });

  // Keep the highlighted row in step with the focused subject link (Tab navigation).
  document.addEventListener("focusin", function (event) {
    if (!event.target.matches("[data-hd-rows] a.hd-subject")) return;
    var list = rows();
    var row = event.target.closest("tr");
    list.forEach(function (r) {
      r.classList.toggle("hd-row-active", r === row);
    });
  });

  // Leave empty filters out of the query string (?q=printer, not ?q=printer&channel=&…).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-clean-query]")) return;
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field.name && !field.disabled && field.value === "") {
        field.disabled = true;
        window.setTimeout(function () { field.disabled = false; }, 0);
      }
    });
  });

  // The bulk bar: how many rows are picked; "all on this page" picks every row (the server
  // reads `all_on_page` itself, so it works without this script too).
  function bulkCount() {
    var bar = document.querySelector("[data-bulk-count]");
    if (!bar) return;
    var boxes = Array.prototype.slice.call(document.querySelectorAll("[data-bulk-pick]"));
    var all = document.querySelector("[data-bulk-all]");
    var n = boxes.filter(function (b) { return b.checked; }).length;
    boxes.forEach(function (b) { b.closest("tr").classList.toggle("hd-row-picked", b.checked); });
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    // The words come from the page, in the user's language (English if an attribute is missing).
    var words = bar.dataset;
    bar.textContent = n === 0 ? (words.none || "Select tickets to change several at once")
                    : n === 1 ? (words.one || "1 ticket selected")
                    : (words.many || "{n} tickets selected").replace("{n}", n);
    var form = bar.closest("form");
    if (form) form.classList.toggle("hd-bulk-idle", n === 0); // the actions show once needed
  }
  bulkCount();
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-bulk-all]")) {
      var on = event.target.checked;
      document.querySelectorAll("[data-bulk-pick]").forEach(function (b) { b.checked = on; });
      bulkCount();
    } else if (event.target.matches("[data-bulk-pick]")) {
      bulkCount();
    }
  });
  document.addEventListener("submit", function (event) {
    if (!event.target.matches("form[data-bulk]")) return;
    var all = document.querySelector("[data-bulk-all]");
    if (all && all.indeterminate) all.checked = false; // send the rows picked one by one
  });

  // Filters and the page size apply as soon as they change.
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]") && event.target.form) {
      if (event.target.form.requestSubmit) event.target.form.requestSubmit();
      else event.target.form.submit();
    }
  });
})();

/* The Ticket owner picker: makes the owner control's text field a combobox (WAI-ARIA
 * "list autocomplete"). As the agent types, it asks the server for at most 20 teams and users
 * (helpdesk/views/owner_search.py) and shows them under the field.
 *
 *   type / ↓      search (↓ alone shows the first ones by name)
 *   ↓ / ↑         move through the matches (the first is active)
 *   Enter         pick the active match; Enter again assigns
 *   Esc           close the list (a second Esc leaves the field)
 *
 * Picking fills the field with the name and the hidden `assignee` with the key (`user:5`),
 * which the server prefers to the text. Without this file the field is a plain text field the
 * server resolves by name. Listeners are on the document, so a control htmx swaps in works.
 */
(function () {
  "use strict";

  var DELAY = 120; // ms after the last key before asking

  function rootOf(el) {
    return el && el.closest ? el.closest("[data-owner-picker]") : null;
  }

  function parts(root) {
    return {
      root: root,
      input: root.querySelector("[data-owner-input]"),
      key: root.querySelector("[data-owner-key]"),
      pop: root.querySelector("[data-owner-pop]"),
      status: root.querySelector("[data-owner-status]"),
    };
  }

  function enhance(scope) {
    var roots = scope.querySelectorAll ? scope.querySelectorAll("[data-owner-picker]") : [];
    Array.prototype.forEach.call(roots, function (root) {
      var input = root.querySelector("[data-owner-input]");
      if (!input || input.getAttribute("role") === "combobox") return;
      input.setAttribute("role", "combobox");
      input.setAttribute("aria-autocomplete", "list");
      input.setAttribute("aria-expanded", "false");
      input.setAttribute("aria-controls", "owner-listbox");
    });
  }

  function options(p) {
    return Array.prototype.slice.call(p.pop.querySelectorAll("[role=option]"));
  }

  function activeIndex(list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].getAttribute("aria-selected") === "true") return i;
    }
    return -1;
  }

  function setActive(p, index) {
    var list = options(p);
    list.forEach(function (option) { option.setAttribute("aria-selected", "false"); });
    if (index < 0 || !list.length) {
      p.input.removeAttribute("aria-activedescendant");
      return;
    }
    var option = list[(index + list.length) % list.length];
    option.setAttribute("aria-selected", "true");
    p.input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  function isOpen(p) {
    return !p.pop.hidden;
  }

  function open(p) {
    p.pop.hidden = false;
    p.input.setAttribute("aria-expanded", "true");
  }

  function close(p) {
    p.pop.hidden = true;
    p.input.setAttribute("aria-expanded", "false");
    p.input.removeAttribute("aria-activedescendant");
  }

  function say(p, words) {
    if (p.status) p.status.textContent = words || "";
  }

  function pick(p, option) {
    p.input.value = option.dataset.name;
    p.key.value = option.dataset.value;
    close(p);
    var words = p.root.dataset.picked || "{name}";
    say(p, words.replace("{name}", option.dataset.name));
  }

  function show(p, html) {
    p.pop.innerHTML = html; // our own fragment: every value in it is escaped by the template
    var list = p.pop.querySelector("[role=listbox]");
    say(p, list ? list.dataset.summary : "");
    open(p);
    var found = options(p);
    setActive(p, found.length ? 0 : -1);
    if (p.root.dataset.enterWaiting) {
      delete p.root.dataset.enterWaiting;
      if (found.length) pick(p, found[0]);
    }
  }

  function search(p, now) {
    window.clearTimeout(p.root._ownerTimer);
    p.root.dataset.searching = "1";
    p.root._ownerTimer = window.setTimeout(function () {
      if (p.root._ownerAbort) p.root._ownerAbort.abort();
      var abort = new AbortController();
      p.root._ownerAbort = abort;
      var text = p.input.value.trim();
      var query = new URLSearchParams({ q: text }).toString();
      fetch(p.root.dataset.searchUrl + "?" + query, {
        signal: abort.signal,
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      })
        .then(function (response) {
          // 400 carries its own words (too long); a redirect is the sign-in page: ignore it.
          if (response.redirected || (response.status !== 200 && response.status !== 400)) {
            throw new Error("owner search: " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          if (p.input.value.trim() !== text) return; // typed on since: a newer answer comes
          delete p.root.dataset.searching;
          if (document.activeElement === p.input) show(p, html);
        })
        .catch(function () {
          if (abort.signal.aborted) return; // a newer search took over
          delete p.root.dataset.searching;
          delete p.root.dataset.enterWaiting;
        });
    }, now ? 0 : DELAY);
  }

  document.addEventListener("input", function (event) {
    if (!event.target.matches("[data-owner-input]")) return;
    var p = parts(rootOf(event.target));
    p.key.value = ""; // the text changed: the server reads it again
    search(p);
  });

  // Capture: runs before helpdesk.js, whose Esc leaves the field.
  document.addEventListener(
    "keydown",
    function (event) {
      if (!event.target.matches || !event.target.matches("[data-owner-input]")) return;
      if (event.altKey && event.key !== "ArrowDown") return;
      var p = parts(rootOf(event.target));
      var list = options(p);
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          if (!isOpen(p)) search(p, true);
          else setActive(p, activeIndex(list) + 1);
          break;
        case "ArrowUp":
          if (!isOpen(p)) return;
          event.preventDefault();
          setActive(p, activeIndex(list) - 1);
          break;
        case "Enter":
          if (p.root.dataset.searching) {
            // Typed and pressed Enter at once: pick the first match when it arrives.
            event.preventDefault();
            p.root.dataset.enterWaiting = "1";
            search(p, true);
          } else if (isOpen(p) && activeIndex(list) >= 0) {
            event.preventDefault();
            pick(p, list[activeIndex(list)]);
          } // else the form submits: the server resolves the typed name
          break;
        case "Escape":
          if (isOpen(p)) {
            event.preventDefault();
            close(p);
          }
          break;
        case "Tab":
          close(p);
          break;
      }
    },
    true
  );

  // A click on the field opens the list; a click on a match picks it.
  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest("[data-owner-pop] [role=option]");
    if (option) {
      var root = rootOf(option);
      var p = parts(root);
      pick(p, option);
      p.input.focus();
      return;
    }
    if (event.target.matches && event.target.matches("[data-owner-input]")) {
      var q = parts(rootOf(event.target));
      if (!isOpen(q)) search(q, true);
    }
  });

  // Keep the focus in the field while the mouse is on the list (scrolling, picking).
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest && event.target.closest("[data-owner-pop]")) event.preventDefault();
  });

  document.addEventListener("focusout", function (event) {
    if (!event.target.matches || !event.target.matches("[data-owner-input]")) return;
    var p = parts(rootOf(event.target));
    window.setTimeout(function () {
      if (document.activeElement !== p.input) close(p);
    }, 0);
  });

  enhance(document);
  document.addEventListener("htmx:load", function (event) {
    enhance(event.detail && event.detail.elt ? event.detail.elt.parentNode || document : document);
  });
})();

/* Channel settings: show only the fields that apply, add rows, filter long pickers.
 *
 * The page works without this file (every field shows, "Add hours" and "Preview" post to
 * the server). The rules saying when a group of fields applies come from the server
 * (channels_cfg.forms, rendered with json_script as #cs-group-rules), so the page and
 * the server's validation never disagree. A static file: the CSP forbids inline scripts.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("cs-js");

  var form = document.getElementById("automation-form");
  var rulesElement = document.getElementById("cs-group-rules");

  function state() {
    var values = {};
    ["assign_mode", "ai_fallback"].forEach(function (name) {
      var checked = form.querySelector('input[name="' + name + '"]:checked');
      values[name] = checked ? checked.value : "";
    });
    ["chat_assignment_enabled", "call_routing", "skill_routing"].forEach(function (name) {
      var box = form.querySelector('input[type="checkbox"][name="' + name + '"]');
      values[name] = box && box.checked ? "on" : "";
    });
    return values;
  }

  function holds(alternatives, values) {
    return alternatives.some(function (alternative) {
      return Object.keys(alternative).every(function (name) {
        return alternative[name].indexOf(values[name] || "") !== -1;
      });
    });
  }

  function topGroups(section) {
    return Array.prototype.filter.call(section.querySelectorAll("[data-cs-group]"), function (el) {
      return el.parentElement.closest("[data-cs-group], .cs-section") === section;
    });
  }

  function apply(rules) {
    var values = state();
    form.querySelectorAll("[data-cs-group]").forEach(function (el) {
      var alternatives = rules[el.dataset.csGroup];
      el.hidden = alternatives ? !holds(alternatives, values) : true;
    });
    form.querySelectorAll(".cs-section").forEach(function (section) {
      if (!section.querySelector(".cs-when-empty")) return;
      var groups = topGroups(section);
      section.classList.toggle(
        "cs-empty",
        groups.length > 0 && groups.every(function (g) { return g.hidden; })
      );
    });
  }

  // "+ Add hours" / "+ Add rule": copy the empty row of the <template>.
  function addRow(button) {
    var box = button.closest("[data-cs-rows]");
    var template = box && box.querySelector("template[data-cs-template]");
    var total = box && box.querySelector('input[name$="-TOTAL_FORMS"]');
    var list = box && box.querySelector("[data-cs-list]");
    if (!template || !total || !list) return false;
    var index = String(parseInt(total.value, 10) || 0);
    var row = template.content.firstElementChild.cloneNode(true);
    [row].concat(Array.prototype.slice.call(row.querySelectorAll("*"))).forEach(function (el) {
      ["id", "name", "for", "aria-describedby"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value && value.indexOf("__prefix__") !== -1) {
          el.setAttribute(attr, value.replace(/__prefix__/g, index));
        }
      });
    });
    list.appendChild(row);
    total.value = String(Number(index) + 1);
    var first = row.querySelector("select, input");
    if (first) first.focus();
    return true;
  }

  if (form && rulesElement) {
    var rules = JSON.parse(rulesElement.textContent);
    apply(rules);
    form.addEventListener("change", function () { apply(rules); });

    form.addEventListener("click", function (event) {
      var button = event.target.closest("[data-cs-add]");
      if (button && addRow(button)) event.preventDefault();
    });

    // Ctrl+S (Cmd+S) saves.
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && (event.key === "s" || event.key === "S")) {
        var save = form.querySelector('button[name="save"]');
        if (save) {
          event.preventDefault();
          save.click();
        }
      }
    });
  }

  // Filter a long users or teams list as you type (Enter never submits the form).
  document.querySelectorAll("[data-cs-filter]").forEach(function (input) {
    var list = input.parentElement.querySelector("[data-cs-picker]");
    if (!list) return;
    input.hidden = false;
    input.addEventListener("input", function () {
      var query = input.value.trim().toLowerCase();
      list.querySelectorAll(".cs-pick").forEach(function (pick) {
        pick.hidden = query !== "" && pick.textContent.toLowerCase().indexOf(query) === -1;
      });
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault();
    });
  });
})();

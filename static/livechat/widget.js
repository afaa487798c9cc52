/* The helpdesk's chat widget: plain JavaScript, no build step, no dependencies.
 *
 * Embedded by one tag (the channel's Details tab and docs/channels/chat.md show it):
 *
 *   <script src="https://help.example.com/static/livechat/widget.js" data-channel="<public id>" async></script>
 *
 * It draws a launcher button and a chat panel inside a shadow root (the page's styles and
 * ours never mix), and talks to the helpdesk's JSON endpoints (/chat/w/<public id>/…):
 * `start` gives a signed visitor token, kept in this page's localStorage and sent as
 * `Authorization: Bearer …` (no cookies); a message is POSTed with an id chosen here, so a
 * retry after a network failure is stored once; the panel then long-polls
 * `messages?after=<last id>&wait=1`, which the helpdesk holds until a message arrives (or
 * answers at once and says when to ask again: `poll_ms`).
 *
 * `data-helpdesk="https://help.example.com/"` names the helpdesk when the script is served
 * from elsewhere (a CDN). Nothing here uses innerHTML: every text is set as text.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector("script[data-channel][src*='livechat/widget.js']");
  if (!script || script.getAttribute("data-hdchat-started")) return;
  script.setAttribute("data-hdchat-started", "1");

  var CHANNEL = script.getAttribute("data-channel") || "";
  var SCRIPT_URL = new URL(script.src, document.baseURI);
  var BASE = new URL(script.getAttribute("data-helpdesk") || "/", SCRIPT_URL);
  var API = new URL("chat/w/" + encodeURIComponent(CHANNEL) + "/", BASE).href;
  var STORE = "helpdesk-chat:" + CHANNEL;
  // The widget's words. The start answer brings them in the visitor's language (the server
  // translates by Accept-Language); these English ones stand in for any it does not send.
  var T = {
    unreachable: "We could not reach the chat. Try again in a moment.",
    busy: "Too many messages just now. Wait a few minutes, then try again.", // 429
    chat_with_us: "Chat with us",
    close: "Close the chat",
    try_again: "Try again",
    empty: "Hello! Write your question below and one of us will answer here.",
    messages: "Messages",
    name: "Your name (optional)",
    email: "Email (optional)",
    message: "Your message",
    placeholder: "Write a message\u2026",
    send: "Send",
    hint: "Enter sends, Shift+Enter starts a new line.",
    you: "You",
    support: "Support",
    sending: "Sending\u2026",
    sent: "Sent",
    not_accepted: "This message was not accepted.",
    not_sent: "Not sent.",
    send_again: "Send again",
    write_first: "Write a message first.",
    too_long: "The message is longer than {max} characters: shorten it."
  };
  var WAIT_TIMEOUT_MS = 40000;
  var SEND_TRIES = 4;

  var state = {
    token: null,
    known: false, // this visitor has written before: there is a conversation to follow
    started: false,
    starting: null,
    open: false,
    cursor: 0,
    pollMs: 1500,
    maxText: 4000,
    polling: false,
    pollTimer: null,
    failures: 0,
    seen: {},
    pending: {}
  };

  // --- storage: this page's own; a browser that refuses it keeps the chat for the visit ---
  function load(key) {
    try { return window.localStorage.getItem(STORE + ":" + key); } catch (e) { return null; }
  }
  function save(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(STORE + ":" + key);
      else window.localStorage.setItem(STORE + ":" + key, value);
    } catch (e) { /* private mode: kept in memory only */ }
  }
  function sessionFlag(value) {
    try {
      if (value === undefined) return window.sessionStorage.getItem(STORE + ":open") === "1";
      window.sessionStorage.setItem(STORE + ":open", value ? "1" : "0");
    } catch (e) { return false; }
    return value;
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // --- the DOM -------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var host = el("div");
  host.setAttribute("data-helpdesk-chat", CHANNEL);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var style = el("link");
  style.rel = "stylesheet";
  style.href = new URL("widget.css", SCRIPT_URL).href;
  root.appendChild(style);

  var wrap = el("div", "hdchat");
  var launcher = el("button", "hdchat-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "hdchat-panel");
  launcher.appendChild(el("span", "hdchat-launcher-icon", "\u2709"));
  launcher.firstChild.setAttribute("aria-hidden", "true");
  var launcherLabel = el("span", "hdchat-launcher-label", T.chat_with_us);
  launcher.appendChild(launcherLabel);

  var panel = el("section", "hdchat-panel");
  panel.id = "hdchat-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "hdchat-title");
  panel.hidden = true;

  var head = el("header", "hdchat-head");
  var title = el("h2", "hdchat-title", T.chat_with_us);
  title.id = "hdchat-title";
  var close = el("button", "hdchat-close", "\u00d7");
  close.type = "button";
  close.setAttribute("aria-label", T.close);
  head.appendChild(title);
  head.appendChild(close);

  var error = el("div", "hdchat-error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  var errorText = el("span", "hdchat-error-text", T.unreachable);
  var retry = el("button", "hdchat-retry", T.try_again);
  retry.type = "button";
  error.appendChild(errorText);
  error.appendChild(retry);

  var body = el("div", "hdchat-body");
  var empty = el("p", "hdchat-empty", T.empty);
  var log = el("ol", "hdchat-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", T.messages);
  body.appendChild(empty);
  body.appendChild(log);

  var form = el("form", "hdchat-form");
  form.noValidate = true;
  var who = el("div", "hdchat-who");
  var nameLabel = el("label", "hdchat-field");
  var nameText = el("span", "", T.name);
  nameLabel.appendChild(nameText);
  var nameInput = el("input");
  nameInput.name = "name";
  nameInput.autocomplete = "name";
  nameInput.maxLength = 200;
  nameLabel.appendChild(nameInput);
  var emailLabel = el("label", "hdchat-field");
  var emailText = el("span", "", T.email);
  emailLabel.appendChild(emailText);
  var emailInput = el("input");
  emailInput.type = "email";
  emailInput.name = "email";
  emailInput.autocomplete = "email";
  emailInput.maxLength = 254;
  emailLabel.appendChild(emailInput);
  who.appendChild(nameLabel);
  who.appendChild(emailLabel);

  var textLabel = el("label", "hdchat-sr", T.message);
  textLabel.htmlFor = "hdchat-text";
  var text = el("textarea", "hdchat-text");
  text.id = "hdchat-text";
  text.rows = 2;
  text.placeholder = T.placeholder;
  text.setAttribute("aria-describedby", "hdchat-hint");
  var send = el("button", "hdchat-send", T.send);
  send.type = "submit";
  var row = el("div", "hdchat-row");
  row.appendChild(text);
  row.appendChild(send);
  var hint = el("p", "hdchat-hint", T.hint);
  hint.id = "hdchat-hint";
  var formError = el("p", "hdchat-form-error");
  formError.setAttribute("role", "alert");
  formError.hidden = true;
  form.appendChild(who);
  form.appendChild(textLabel);
  form.appendChild(row);
  form.appendChild(formError);
  form.appendChild(hint);

  panel.appendChild(head);
  panel.appendChild(error);
  panel.appendChild(body);
  panel.appendChild(form);
  wrap.appendChild(panel);
  wrap.appendChild(launcher);
  root.appendChild(wrap);

  // --- talking to the helpdesk ------------------------------------------------------------
  function request(method, path, payload, timeoutMs) {
    var headers = { "Accept": "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs || 15000) : null;
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (timer) clearTimeout(timer);
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    }, function (reason) {
      if (timer) clearTimeout(timer);
      throw reason;
    });
  }

  function showError(shown, message) {
    errorText.textContent = message || T.unreachable;
    error.hidden = !shown;
    wrap.classList.toggle("hdchat-offline", shown);
  }

  // Words in the visitor's language, for every label on the widget (English until they come).
  function useTexts(texts) {
    if (!texts) return;
    Object.keys(T).forEach(function (key) {
      if (typeof texts[key] === "string" && texts[key]) T[key] = texts[key];
    });
    launcherLabel.textContent = T.chat_with_us;
    if (!state.started) title.textContent = T.chat_with_us;
    close.setAttribute("aria-label", T.close);
    retry.textContent = T.try_again;
    if (!state.started) empty.textContent = T.empty;
    log.setAttribute("aria-label", T.messages);
    nameText.textContent = T.name;
    emailText.textContent = T.email;
    textLabel.textContent = T.message;
    text.placeholder = T.placeholder;
    send.textContent = T.send;
    hint.textContent = T.hint;
  }

  fetch(API + "texts", { headers: { "Accept": "application/json" }, credentials: "omit" })
    .then(function (answer) { return answer.ok ? answer.json() : null; })
    .then(function (data) { useTexts(data && data.texts); })
    .catch(function () { /* the English words stay */ });

  function start() {
    if (state.started) return Promise.resolve(true);
    if (state.starting) return state.starting;
    state.token = state.token || load("token");
    state.known = state.known || load("known") === "1";
    state.starting = request("POST", "start", {}).then(function (answer) {
      state.starting = null;
      if (answer.status !== 200 || !answer.data.token) {
        state.startError = answer.status === 429 ? T.busy : T.unreachable;
        showError(true, state.startError);
        return false;
      }
      if (answer.data.token !== state.token) {
        state.known = false;
        save("known", null);
      }
      state.token = answer.data.token;
      save("token", state.token);
      state.maxText = answer.data.max_text || state.maxText;
      state.pollMs = answer.data.poll_ms || 0;
      text.maxLength = state.maxText;
      if (answer.data.title) title.textContent = answer.data.title;
      if (answer.data.greeting) empty.textContent = answer.data.greeting;
      who.hidden = state.known;
      state.started = true;
      showError(false);
      if (state.known) poll();
      return true;
    }, function () {
      state.starting = null;
      state.startError = T.unreachable;
      showError(true);
      return false;
    });
    return state.starting;
  }

  function restart() {
    state.started = false;
    state.token = null;
    state.known = false;
    state.cursor = 0;
    save("token", null);
    save("known", null);
    return start();
  }

  function schedulePoll(delay) {
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(poll, delay);
  }

  function poll() {
    if (!state.open || !state.started || state.polling) return;
    state.polling = true;
    var path = "messages?after=" + state.cursor + "&wait=1";
    request("GET", path, undefined, WAIT_TIMEOUT_MS).then(function (answer) {
      state.polling = false;
      if (answer.status === 401) {
        restart();
        return;
      }
      if (answer.status !== 200) throw new Error("status " + answer.status);
      state.failures = 0;
      showError(false);
      (answer.data.messages || []).forEach(render);
      if (answer.data.cursor > state.cursor) state.cursor = answer.data.cursor;
      schedulePoll(answer.data.poll_ms || 0);
    }).catch(function () {
      state.polling = false;
      state.failures += 1;
      showError(true);
      schedulePoll(Math.min(30000, 1000 * Math.pow(2, state.failures)));
    });
  }

  // --- messages ----------------------------------------------------------------------------
  function bubble(from, name, body) {
    var item = el("li", "hdchat-msg hdchat-msg-" + from);
    item.appendChild(el("span", "hdchat-author", from === "visitor" ? T.you : (name || T.support)));
    item.appendChild(el("p", "hdchat-msg-text", body));
    var status = el("span", "hdchat-status");
    item.appendChild(status);
    return item;
  }

  function append(item) {
    log.appendChild(item);
    empty.hidden = true;
    body.scrollTop = body.scrollHeight;
  }

  function setStatus(item, label, kind) {
    var status = item.querySelector(".hdchat-status");
    status.textContent = label;
    item.setAttribute("data-status", kind);
  }

  function render(message) {
    if (state.seen[message.id]) return;
    state.seen[message.id] = true;
    var mine = message.client_id && state.pending[message.client_id];
    if (mine) {
      delete state.pending[message.client_id];
      mine.item.setAttribute("data-id", message.id);
      setStatus(mine.item, "", "delivered");
      return;
    }
    var item = bubble(message.from, message.name, message.text);
    item.setAttribute("data-id", message.id);
    item.setAttribute("data-status", "delivered");
    append(item);
  }

  function post(entry, tries) {
    setStatus(entry.item, T.sending, "sending");
    var payload = { id: entry.id, text: entry.text };
    if (entry.name) payload.name = entry.name;
    if (entry.email) payload.email = entry.email;
    request("POST", "messages", payload).then(function (answer) {
      if (answer.status === 202) {
        if (state.pending[entry.id]) setStatus(entry.item, T.sent, "sent");
        showError(false);
        if (!state.known) {
          state.known = true;
          save("known", "1");
          who.hidden = true;
        }
        poll();
        return;
      }
      if (answer.status === 401) {
        restart().then(function (ok) { if (ok) post(entry, tries); else failed(entry, T.unreachable); });
        return;
      }
      if (answer.status === 429) {
        failed(entry, T.busy);
        return;
      }
      if (answer.status >= 400 && answer.status < 500) {
        failed(entry, answer.data.error || T.not_accepted);
        return;
      }
      throw new Error("status " + answer.status);
    }).catch(function () {
      if (tries + 1 < SEND_TRIES) {
        setTimeout(function () { post(entry, tries + 1); }, 1000 * Math.pow(2, tries));
      } else {
        showError(true);
        failed(entry, T.not_sent);
      }
    });
  }

  function failed(entry, reason) {
    setStatus(entry.item, reason + " ", "failed");
    var again = el("button", "hdchat-again", T.send_again);
    again.type = "button";
    again.addEventListener("click", function () {
      again.remove();
      post(entry, 0);
    });
    entry.item.querySelector(".hdchat-status").appendChild(again);
  }

  function submit() {
    var value = text.value.trim();
    formError.hidden = true;
    if (!value) {
      formError.textContent = T.write_first;
      formError.hidden = false;
      text.focus();
      return;
    }
    if (value.length > state.maxText) {
      formError.textContent = T.too_long.replace("{max}", state.maxText);
      formError.hidden = false;
      return;
    }
    start().then(function (ok) {
      if (!ok) {
        formError.textContent = state.startError || T.unreachable;
        formError.hidden = false;
        return;
      }
      var entry = {
        id: newId(),
        text: value,
        name: state.known ? "" : nameInput.value.trim(),
        email: state.known ? "" : emailInput.value.trim()
      };
      entry.item = bubble("visitor", "", value);
      entry.item.setAttribute("data-client-id", entry.id);
      state.pending[entry.id] = entry;
      append(entry.item);
      text.value = "";
      post(entry, 0);
    });
  }

  // --- opening and closing -----------------------------------------------------------------
  function setOpen(open, focus) {
    state.open = open;
    sessionFlag(open);
    panel.hidden = !open;
    wrap.classList.toggle("hdchat-open", open);
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      start().then(function (ok) { if (ok && state.known) poll(); });
      if (focus) text.focus();
    } else {
      clearTimeout(state.pollTimer);
      if (focus) launcher.focus();
    }
  }

  launcher.addEventListener("click", function () { setOpen(!state.open, true); });
  close.addEventListener("click", function () { setOpen(false, true); });
  retry.addEventListener("click", function () {
    showError(false);
    state.failures = 0;
    if (!state.started) start();
    else poll();
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      setOpen(false, true);
    }
  });
  text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });

  function mount() {
    document.body.appendChild(host);
    if (sessionFlag()) setOpen(true, false);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();

/* Accord: keyboard-only labelling. Vanilla JS, no build step.
 *
 * Everything hangs off data attributes rendered by the templates, so the keys that work and
 * the key map that lists them come from the same markup:
 *   [data-question] fieldsets with radios carrying data-key     -> choice keys
 *   [data-hotkey="x"] (and data-hotkey-alt) with data-hotkey-desc -> action keys
 *   [data-skip-panel] with radios carrying data-reason-key       -> skip reasons
 * Listeners are delegated on document, so they keep working after htmx swaps the item.
 */
(function () {
  "use strict";

  var TYPING = 'input:not([type="radio"]):not([type="checkbox"]):not([type="hidden"])' +
    ':not([type="button"]):not([type="submit"]):not([type="reset"]), textarea, select, ' +
    '[contenteditable=""], [contenteditable="true"]';
  var NATIVE_ENTER = 'button, a[href], summary, input[type="button"], input[type="submit"]';
  var GUIDE_KEY = "accord.guide.collapsed";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $$(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function answerForm() { return $("[data-answer-form]"); }
  function questions() { var f = answerForm(); return f ? $$("[data-question]", f) : []; }
  function isAnswered(q) { return !!$('input[type="radio"]:checked', q); }
  function activeQuestion() { return $("[data-question].is-active"); }
  function skipPanel() { return $("[data-skip-panel]"); }
  function keymap() { return $("#keymap"); }

  function setActive(q, opts) {
    opts = opts || {};
    questions().forEach(function (x) { x.classList.toggle("is-active", x === q); });
    if (q && opts.scroll !== false) {
      q.scrollIntoView({ block: "nearest", behavior: "auto" });
    }
  }

  function nextUnanswered(from) {
    var qs = questions();
    var start = from ? qs.indexOf(from) + 1 : 0;
    for (var i = 0; i < qs.length; i++) {
      var q = qs[(start + i) % qs.length];
      if (!isAnswered(q)) return q;
    }
    return null;
  }

  function showHint(text) {
    var hint = $("[data-hint]");
    if (!hint) return;
    hint.textContent = text;
    hint.hidden = !text;
  }

  function markMissing() {
    var missing = [];
    questions().forEach(function (q) {
      var open = !isAnswered(q);
      q.classList.toggle("is-missing", open);
      if (open) missing.push(q);
    });
    return missing;
  }

  function noteHint(text) {
    var hint = $("p[data-note-hint]");
    if (!hint) return;
    hint.textContent = text || "";
    hint.hidden = !text;
  }

  /* --- the item ---------------------------------------------------------------------- */

  function initItem(takeFocus) {
    var qs = questions();
    noteHint("");
    if (!qs.length) return;
    var hasError = !!$("[data-error]");
    if (hasError) markMissing();
    var first = nextUnanswered(null) || qs[0];
    setActive(first, { scroll: false });
    first.setAttribute("tabindex", "-1");
    // After a swap htmx gives the focus back to the element with the old one's id (the note
    // field): a choice key would then be typed into it. The new item starts on its question.
    if (takeFocus || !document.activeElement || document.activeElement === document.body) {
      first.focus({ preventScroll: true });
    }
  }

  function afterChoice(q, input) {
    q.classList.remove("is-missing");
    var noteOn = q.getAttribute("data-note-on");
    var note = $("#note");
    if (noteOn && input.value === noteOn && note) {
      noteHint(q.getAttribute("data-note-prompt"));
      note.focus();
      return;
    }
    if (noteOn) noteHint("");
    var next = nextUnanswered(q);
    if (next) {
      setActive(next);
      showHint("");
    } else {
      showHint("Every question is answered: Enter submits.");
    }
  }

  function choose(key) {
    var q = activeQuestion() || nextUnanswered(null) || questions()[0];
    if (!q) return false;
    var input = $$('input[type="radio"][data-key]', q).filter(function (i) {
      return i.getAttribute("data-key") === key;
    })[0];
    if (!input) return false;
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function move(step) {
    var qs = questions();
    if (!qs.length) return false;
    var i = qs.indexOf(activeQuestion());
    var next = qs[Math.min(qs.length - 1, Math.max(0, i + step))];
    setActive(next);
    return true;
  }

  function submitAnswers() {
    var form = answerForm();
    if (!form) return;
    var missing = markMissing();
    if (missing.length) {
      setActive(missing[0]);
      showHint(missing.length + (missing.length === 1 ? " question is" : " questions are") +
        " still open: answer the highlighted one first.");
      return;
    }
    showHint("");
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  /* --- skip -------------------------------------------------------------------------- */

  function openSkip() {
    var panel = skipPanel();
    if (!panel) return;
    panel.open = true;
    var checked = $('input[name="reason"]:checked', panel);
    (checked || $('input[name="reason"]', panel)).focus();
  }

  function closeSkip() {
    var panel = skipPanel();
    if (!panel) return;
    panel.open = false;
    var q = activeQuestion();
    if (q) q.focus({ preventScroll: true });
  }

  function chooseReason(key) {
    var panel = skipPanel();
    var input = $('input[data-reason-key="' + key + '"]', panel);
    if (!input) return;
    input.checked = true;
    if (input.value === "other") {
      $("[data-skip-other]", panel).focus();
    } else {
      input.focus();
    }
  }

  function confirmSkip() {
    var panel = skipPanel();
    var form = $("[data-skip-form]", panel);
    var reason = $('input[name="reason"]:checked', panel);
    var other = $("[data-skip-other]", panel);
    if (!reason) { showSkipHint("Choose a reason first (1-4)."); return; }
    if (reason.value === "other" && !other.value.trim()) {
      showSkipHint("Say in a few words why you skip it.");
      other.focus();
      return;
    }
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  function showSkipHint(text) {
    var panel = skipPanel();
    var hint = $("[data-skip-hint]", panel);
    if (!hint) {
      hint = document.createElement("p");
      hint.className = "hint";
      hint.setAttribute("data-skip-hint", "");
      hint.setAttribute("role", "status");
      $("[data-skip-form] .actions", panel).before(hint);
    }
    hint.textContent = text;
  }

  function handleSkipKey(e, panel) {
    var inOther = e.target.matches && e.target.matches("[data-skip-other]");
    if (e.key === "Escape") { e.preventDefault(); closeSkip(); return; }
    if (e.key === "Enter") {
      if (e.target.matches && e.target.matches("[data-skip-cancel]")) return;
      e.preventDefault();
      confirmSkip();
      return;
    }
    if (inOther) return;
    if ($('input[data-reason-key="' + e.key + '"]', panel)) { e.preventDefault(); chooseReason(e.key); return; }
    if (e.key === "s") { e.preventDefault(); closeSkip(); }
  }

  /* --- guideline and key map --------------------------------------------------------- */

  function setGuide(collapsed) {
    document.body.classList.toggle("guide-collapsed", collapsed);
    var button = $("[data-guide-toggle]");
    if (button) {
      button.setAttribute("aria-expanded", String(!collapsed));
      button.firstChild.nodeValue = collapsed ? "Show " : "Hide ";
    }
    try { window.localStorage.setItem(GUIDE_KEY, collapsed ? "1" : "0"); } catch (err) { /* private mode */ }
  }

  function toggleGuide() { setGuide(!document.body.classList.contains("guide-collapsed")); }

  function describeKey(key) {
    var names = { "Enter": "Enter", "Escape": "Esc", "Backspace": "Backspace", "ArrowDown": "↓", "ArrowUp": "↑" };
    return names[key] || key;
  }

  function row(keys, text) {
    var tr = document.createElement("tr");
    var k = document.createElement("td");
    keys.forEach(function (key, i) {
      if (i) k.appendChild(document.createTextNode(" or "));
      var kbd = document.createElement("kbd");
      kbd.textContent = describeKey(key);
      k.appendChild(kbd);
    });
    var d = document.createElement("td");
    d.textContent = text;
    tr.appendChild(k);
    tr.appendChild(d);
    return tr;
  }

  function section(title, rows) {
    var table = document.createElement("table");
    var caption = document.createElement("tr");
    var th = document.createElement("th");
    th.colSpan = 2;
    th.textContent = title;
    caption.appendChild(th);
    table.appendChild(caption);
    rows.forEach(function (r) { table.appendChild(r); });
    return table;
  }

  function buildKeymap() {
    var body = $("[data-keymap-body]");
    if (!body) return;
    body.textContent = "";
    var seen = {};
    var choiceRows = [];
    questions().forEach(function (q) {
      $$('input[type="radio"][data-key]', q).forEach(function (input) {
        var key = input.getAttribute("data-key");
        var label = input.getAttribute("data-choice-label");
        var desc = input.parentNode.querySelector(".choice-desc");
        var text = label + (desc ? ": " + desc.textContent : "");
        if (seen[key + text]) return;
        seen[key + text] = true;
        choiceRows.push(row([key], text + " (answers the highlighted question)"));
      });
    });
    if (choiceRows.length) {
      body.appendChild(section("Answer", choiceRows));
      body.appendChild(section("Move between questions", [
        row(["j", "ArrowDown"], "Next question"),
        row(["k", "ArrowUp"], "Previous question"),
      ]));
    }
    var actionRows = [];
    $$("[data-hotkey]").forEach(function (el) {
      var keys = [el.getAttribute("data-hotkey")];
      if (el.getAttribute("data-hotkey-alt")) keys.push(el.getAttribute("data-hotkey-alt"));
      actionRows.push(row(keys, el.getAttribute("data-hotkey-desc") || el.textContent.trim()));
    });
    if (actionRows.length) body.appendChild(section("Actions", actionRows));
    var panel = skipPanel();
    if (panel) {
      var reasonRows = $$("input[data-reason-key]", panel).map(function (input) {
        var label = input.parentNode.querySelector("span");
        return row([input.getAttribute("data-reason-key")], label ? label.textContent : input.value);
      });
      reasonRows.push(row(["Enter"], "Confirm the skip"));
      reasonRows.push(row(["Escape"], "Cancel"));
      body.appendChild(section("In the skip panel", reasonRows));
    }
  }

  function keymapOpen() { var k = keymap(); return !!k && !k.hidden; }

  function toggleKeymap(force) {
    var k = keymap();
    if (!k) return;
    var open = force === undefined ? k.hidden : force;
    if (open) {
      buildKeymap();
      k.hidden = false;
      $(".keymap", k).focus();
    } else {
      k.hidden = true;
      var q = activeQuestion();
      if (q) q.focus({ preventScroll: true });
    }
  }

  /* --- actions by hotkey ------------------------------------------------------------- */

  function hotkeyElement(key) {
    var els = $$("[data-hotkey]").filter(function (el) {
      return el.getAttribute("data-hotkey") === key || el.getAttribute("data-hotkey-alt") === key;
    });
    return els[0] || null;
  }

  function translateAll() {
    var root = $("[data-item-root]") || document;
    $$("[data-translate]", root).forEach(function (button) {
      if (!button.disabled) button.click();
    });
  }

  function runHotkey(el) {
    if (el.hasAttribute("data-keymap-open")) { toggleKeymap(); return; }
    if (el.hasAttribute("data-guide-toggle")) { toggleGuide(); return; }
    if (el.hasAttribute("data-translate-all")) { translateAll(); return; }
    if (el.tagName === "TEXTAREA" || el.tagName === "INPUT") { el.focus(); return; }
    if (el.tagName === "SUMMARY") { openSkip(); return; }
    el.click();
  }

  /* --- the one key listener ---------------------------------------------------------- */

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;
    var target = e.target;
    var key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (e.key === "?") key = "?";

    if (keymapOpen()) {
      if (key === "Escape" || key === "?") { e.preventDefault(); toggleKeymap(false); }
      return;
    }
    var panel = skipPanel();
    if (panel && panel.open) { handleSkipKey(e, panel); return; }

    if (target.matches && target.matches(TYPING)) {
      if (target.id === "note") {
        if (key === "Enter" && !e.shiftKey) { e.preventDefault(); submitAnswers(); }
        else if (key === "Escape") {
          e.preventDefault();
          target.blur();
          var q = activeQuestion();
          if (q) q.focus({ preventScroll: true });
        }
      }
      return;
    }

    if (key === "Enter") {
      if (target.matches && target.matches(NATIVE_ENTER)) return;
      if (!answerForm()) return;
      e.preventDefault();
      submitAnswers();
      return;
    }
    if (key === "Escape") { showHint(""); return; }
    if (questions().length) {
      if (key === "j" || key === "ArrowDown") { e.preventDefault(); move(1); return; }
      if (key === "k" || key === "ArrowUp") { e.preventDefault(); move(-1); return; }
      if (choose(key)) { e.preventDefault(); return; }
    }
    var el = hotkeyElement(key);
    if (el) { e.preventDefault(); runHotkey(el); }
  });

  // A radio picked with the mouse or the keyboard: the same follow-up.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches('[data-question] input[type="radio"]')) return;
    var q = input.closest("[data-question]");
    setActive(q, { scroll: false });
    afterChoice(q, input);
  });

  // Clicking into a question makes it the active one.
  document.addEventListener("click", function (e) {
    var q = e.target.closest && e.target.closest("[data-question]");
    if (q) setActive(q, { scroll: false });
    if (e.target.closest && e.target.closest("[data-keymap-close]")) toggleKeymap(false);
    if (e.target === keymap()) toggleKeymap(false);
    if (e.target.closest && e.target.closest("[data-keymap-open]")) { e.preventDefault(); toggleKeymap(); }
    if (e.target.closest && e.target.closest("[data-guide-toggle]")) { e.preventDefault(); toggleGuide(); }
    if (e.target.closest && e.target.closest("[data-translate-all]")) { e.preventDefault(); translateAll(); }
    if (e.target.closest && e.target.closest("[data-skip-cancel]")) { e.preventDefault(); closeSkip(); }
  });

  // Submit with an open question: keep the request from leaving, point at what is missing.
  document.addEventListener("submit", function (e) {
    if (!e.target.matches || !e.target.matches("[data-answer-form]")) return;
    if (markMissing().length) {
      e.preventDefault();
      e.stopPropagation();
      submitAnswers();
    }
  }, true);

  document.addEventListener("toggle", function (e) {
    if (e.target.matches && e.target.matches("[data-skip-panel]") && e.target.open) {
      var first = $('input[name="reason"]', e.target);
      if (first && !e.target.contains(document.activeElement)) first.focus();
    }
  }, true);

  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.detail && e.detail.target && e.detail.target.id === "item-slot") initItem(true);
  });

  function connectionTrouble(e) {
    var elt = e.detail && e.detail.elt;
    if (!elt || !elt.closest || !elt.closest("#item-slot")) return;
    showHint("The server did not take this answer (connection or server error). Nothing was " +
      "lost on this page: press Enter to try again.");
  }
  // A translate request carries the text its block shows: the token signs only its hash.
  document.addEventListener("htmx:configRequest", function (e) {
    var sourceId = e.detail.elt.getAttribute("data-translate-text");
    var source = sourceId && document.getElementById(sourceId);
    if (source) e.detail.parameters.text = source.textContent;
  });
  document.addEventListener("htmx:sendError", connectionTrouble);
  document.addEventListener("htmx:responseError", connectionTrouble);

  function start() {
    var stored = null;
    try { stored = window.localStorage.getItem(GUIDE_KEY); } catch (err) { /* private mode */ }
    if (stored === "1") setGuide(true);
    initItem();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

/* Accord: the adjudication case page. accord.js does the choice keys, hotkeys, key map and
 * the swap follow-up (the case lives in #item-slot like an annotator's item); this file only
 * adds what differs: the reason is required, Enter in it submits, Esc leaves it. */
(function () {
  "use strict";

  function form() { return document.querySelector("[data-adjudicate-form]"); }
  function reason() { return document.getElementById("reason"); }

  function hint(text) {
    var f = form();
    var el = f && f.querySelector("[data-hint]");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  function hasValue() {
    var f = form();
    return !!(f && f.querySelector('[data-question] input[type="radio"]:checked'));
  }

  function submit() {
    var f = form();
    if (!f) return;
    if (f.requestSubmit) f.requestSubmit(); else f.submit();
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target !== reason()) return;
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submit(); return; }
    if (e.key === "Escape") {
      e.preventDefault();
      e.target.blur();
      var q = document.querySelector("[data-question]");
      if (q) q.focus({ preventScroll: true });
    }
  });

  // A value picked: the reason comes next (it is required).
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches('[data-adjudicate-form] [data-question] input[type="radio"]')) return;
    var r = reason();
    if (r && !r.value.trim()) {
      r.focus();
      // After accord.js's own hint for an answered form, which runs later.
      window.setTimeout(function () { hint("Now the reason (required), then Enter."); }, 0);
    }
  });

  // Runs before accord.js's check of open questions; both only stop a submit that cannot pass.
  document.addEventListener("submit", function (e) {
    if (!e.target.matches || !e.target.matches("[data-adjudicate-form]")) return;
    var r = reason();
    if (hasValue() && r && !r.value.trim()) {
      e.preventDefault();
      e.stopPropagation();
      hint("Give the reason for the final value first.");
      r.focus();
    }
  }, true);
})();

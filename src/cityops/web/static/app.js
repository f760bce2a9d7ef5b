/* cityops console: small helpers shared by every page (no inline scripts: CSP). */
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="csrf-token"]');

  function strings() {
    var node = document.getElementById("i18n");
    try { return node ? JSON.parse(node.textContent) : {}; } catch (e) { return {}; }
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { return r.json().then(function (b) { throw new Error(b.detail || r.status); }); }
        return r.json();
      });
  }

  function text(el, value) { el.textContent = value == null ? "" : String(value); return el; }

  function make(tag, cls, value) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    if (value != null) { text(el, value); }
    return el;
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  function duration(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var total = Math.floor(Math.abs(seconds) / 60);
    var h = Math.floor(total / 60), m = total % 60;
    return sign + h + ":" + (m < 10 ? "0" : "") + m;
  }

  // Tick natural-time countdowns; working-time ones are shown as the server computed them.
  function countdowns() {
    var nodes = document.querySelectorAll(".countdown[data-kind='natural'][data-due]");
    if (!nodes.length) { return; }
    setInterval(function () {
      nodes.forEach(function (n) {
        var left = (Date.parse(n.getAttribute("data-due")) - Date.now()) / 1000;
        text(n, duration(left));
        n.classList.toggle("overdue", left < 0);
      });
    }, 1000);
  }

  function checkAll() {
    var all = document.getElementById("check-all");
    if (!all) { return; }
    all.addEventListener("change", function () {
      document.querySelectorAll('input[name="case_id"][form="bulk"]:not(:disabled)')
        .forEach(function (box) { box.checked = all.checked; });
    });
  }

  // Buttons of dangerous forms ask first (a data attribute instead of an inline handler).
  function confirms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
  }

  window.Cityops = {
    csrf: meta ? meta.getAttribute("content") : "",
    strings: strings,
    getJSON: getJSON,
    text: text,
    make: make,
    debounce: debounce,
    duration: duration
  };

  document.addEventListener("DOMContentLoaded", function () {
    countdowns();
    checkAll();
    confirms();
  });
})();

/* Every page: leave no clinical drafts behind on logout (drafts in this browser may hold
   clinical text). Loaded as a file: the content security policy allows no inline script. */
(function () {
  "use strict";
  var form = document.getElementById("logout-form");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    try {
      Object.keys(localStorage).forEach(function (k) {
        if (k.indexOf("hub.") === 0) { localStorage.removeItem(k); }
      });
    } catch (e) { /* storage unavailable */ }
  });
}());

/* Every page: times and dates in the reader's zone, language and calendar (Solar Hijri in
   Persian, through Intl). The server writes <time datetime="...">UTC text</time>; date-only
   values carry data-date and are formatted in UTC so a birth date never shifts by a day.
   hub.formatTimes(root) is there for text added after load (live updates, chat). */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var formats = null;
  try {
    formats = {
      long: new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }),
      short: new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" }),
      time: new Intl.DateTimeFormat(lang, { timeStyle: "short" }),
      date: new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: "UTC" })
    };
  } catch (e) { formats = null; }

  function formatOne(el) {
    if (!formats || el.hasAttribute("data-formatted")) { return; }
    var raw = el.getAttribute("datetime");
    if (el.hasAttribute("data-date") && /^\d{4}-\d{2}-\d{2}$/.test(raw)) { raw += "T00:00:00Z"; }
    var when = new Date(raw);
    if (isNaN(when.getTime())) { return; }
    var style = el.hasAttribute("data-date") ? "date"
      : el.hasAttribute("data-time") ? "time"
      : el.hasAttribute("data-short") ? "short" : "long";
    if (!el.title) { el.title = el.getAttribute("datetime"); }
    el.textContent = formats[style].format(when);
    el.setAttribute("data-formatted", "");
  }

  function formatTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(formatOne);
  }

  window.hub = window.hub || {};
  window.hub.formatTimes = formatTimes;
  window.hub.formatNumber = function (n) {
    try { return new Intl.NumberFormat(lang).format(n); } catch (e) { return String(n); }
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { formatTimes(); });
  } else {
    formatTimes();
  }
}());

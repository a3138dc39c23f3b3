/* Patient pages: the date of birth in the reader's calendar (typed in Solar Hijri in Persian,
   converted with Intl), the national-id hint of the chosen country, and insurance memberships
   added and ended through the JSON API. Loaded as a file: the content security policy allows
   no inline script; the texts come as JSON in the page. */
(function () {
  "use strict";

  var DAY = 86400000;

  function json(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  /* Any decimal digits (Persian, Arabic-Indic, full-width) as ASCII. */
  function asciiDigits(text) {
    return text.replace(/[\u06F0-\u06F9]/g, function (d) { return String(d.charCodeAt(0) - 0x06F0); })
      .replace(/[\u0660-\u0669]/g, function (d) { return String(d.charCodeAt(0) - 0x0660); })
      .replace(/[\uFF10-\uFF19]/g, function (d) { return String(d.charCodeAt(0) - 0xFF10); });
  }

  var persianParts = null;
  try {
    persianParts = new Intl.DateTimeFormat("en-u-ca-persian-nu-latn", {
      timeZone: "UTC", year: "numeric", month: "numeric", day: "numeric"
    });
  } catch (e) { persianParts = null; }

  /* {y, m, d} of a UTC day in the Solar Hijri calendar. */
  function toSolar(time) {
    var out = {};
    persianParts.formatToParts(new Date(time)).forEach(function (p) {
      if (p.type === "year" || p.type === "month" || p.type === "day") {
        out[p.type] = parseInt(p.value, 10);
      }
    });
    return { y: out.year, m: out.month, d: out.day };
  }

  /* The UTC day of a Solar Hijri date, found by asking Intl about the days around the
     estimate (a Solar Hijri year starts on 20-21 March of Gregorian year y + 621). */
  function fromSolar(y, m, d) {
    if (!persianParts || m < 1 || m > 12 || d < 1 || d > 31) { return null; }
    var before = m <= 7 ? (m - 1) * 31 : 186 + (m - 7) * 30; /* six months of 31 days, then 30 */
    var estimate = Date.UTC(y + 621, 2, 21) + (before + d - 1) * DAY;
    for (var offset = -4; offset <= 4; offset += 1) {
      var t = estimate + offset * DAY;
      var s = toSolar(t);
      if (s.y === y && s.m === m && s.d === d) { return t; }
    }
    return null;
  }

  function isoDay(time) { return new Date(time).toISOString().slice(0, 10); }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function setUpBirthDate() {
    var input = document.getElementById("date_of_birth");
    var text = json("patients-calendar");
    if (!input || !text) { return; }
    var shown = document.getElementById("dob-shown");
    var format = null;
    try {
      format = new Intl.DateTimeFormat(text.locale, { dateStyle: "long", timeZone: "UTC" });
    } catch (e) { format = null; }
    var solar = null;

    function showDate() {
      var ok = /^\d{4}-\d{2}-\d{2}$/.test(input.value);
      var time = ok ? Date.parse(input.value + "T00:00:00Z") : NaN;
      if (shown) {
        shown.textContent = format && !isNaN(time) ? text.shown.replace("{date}", format.format(new Date(time))) : "";
      }
      return time;
    }

    if (text.locale === "fa" && persianParts) {
      /* Persian readers type the date in their own calendar; the date field follows. */
      var box = document.getElementById("dob-solar");
      var label = document.createElement("label");
      label.setAttribute("for", "dob-solar-input");
      label.textContent = text.label;
      solar = document.createElement("input");
      solar.id = "dob-solar-input";
      solar.setAttribute("inputmode", "numeric");
      solar.setAttribute("autocomplete", "off");
      solar.setAttribute("dir", "ltr");
      solar.setAttribute("placeholder", "1369/02/24");
      var problem = document.createElement("p");
      problem.className = "error";
      problem.id = "dob-solar-error";
      problem.setAttribute("role", "alert");
      box.appendChild(label);
      box.appendChild(solar);
      box.appendChild(problem);
      solar.addEventListener("input", function () {
        var m = /^\s*(\d{3,4})\s*[\/\-.]\s*(\d{1,2})\s*[\/\-.]\s*(\d{1,2})\s*$/.exec(asciiDigits(solar.value));
        var time = m ? fromSolar(parseInt(m[1], 10), parseInt(m[2], 10), parseInt(m[3], 10)) : null;
        if (time === null) {
          problem.textContent = solar.value.trim() ? text.bad : "";
          return;
        }
        problem.textContent = "";
        input.value = isoDay(time);
        showDate();
      });
    }

    function follow() {
      var time = showDate();
      if (solar && !isNaN(time)) {
        var s = toSolar(time);
        solar.value = s.y + "/" + pad(s.m) + "/" + pad(s.d);
      }
    }
    input.addEventListener("change", follow);
    input.addEventListener("input", follow);
    follow();
  }

  function setUpIdHints() {
    var country = document.getElementById("id_country");
    if (!country || country.tagName !== "SELECT") { return; }
    country.addEventListener("change", function () {
      document.querySelectorAll("[data-id-hint]").forEach(function (el) {
        el.hidden = el.getAttribute("data-id-hint") !== country.value;
      });
    });
  }

  /* --- memberships, through /api/v1 ------------------------------------------------------ */

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (resp) {
      if (resp.ok) { return resp.json(); }
      return resp.json().catch(function () { return {}; }).then(function (data) {
        var err = (data && data.error) || {};
        throw new Error(err.message || String(resp.status));
      });
    });
  }

  function setUpMemberships() {
    var section = document.getElementById("memberships");
    var text = json("patients-text");
    if (!section || !text) { return; }
    var status = document.getElementById("membership-status");
    var error = document.getElementById("membership-error");

    function run(form, body) {
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      error.textContent = "";
      post(form.getAttribute("data-url"), body).then(function () {
        status.textContent = text.saved;
        window.location.reload();
      }).catch(function (e) {
        if (button) { button.disabled = false; }
        error.textContent = e instanceof TypeError ? text.network : text.failed.replace("{error}", e.message);
      });
    }

    var add = document.getElementById("add-membership");
    if (add) {
      add.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (!add.reportValidity()) { return; }
        var body = {
          insurer: add.elements.insurer.value,
          member_id: add.elements.member_id.value.trim(),
          valid_from: add.elements.valid_from.value
        };
        if (add.elements.valid_to.value) { body.valid_to = add.elements.valid_to.value; }
        run(add, body);
      });
    }
    section.querySelectorAll("form.end-membership").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (!form.reportValidity() || !window.confirm(text.confirm_end)) { return; }
        run(form, { valid_to: form.elements.valid_to.value });
      });
    });
  }

  function start() {
    setUpBirthDate();
    setUpIdHints();
    setUpMemberships();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());

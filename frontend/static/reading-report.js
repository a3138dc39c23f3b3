/* The report section (imaging/reading/_report.html): save the draft, sign, amend, receive. Each
   change goes through the JSON API with the page's CSRF token; the page then reloads so what it
   shows is what the hub stored. */
(function () {
  "use strict";
  var section = document.getElementById("report");
  if (!section) { return; }
  var T = JSON.parse(document.getElementById("report-text").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var url = section.dataset.reportUrl;
  var status = document.getElementById("report-status");
  var error = document.getElementById("report-error");

  function say(el, text) { el.textContent = text || ""; }
  function call(method, path, body) {
    var headers = { "Accept": "application/json", "X-CSRFToken": CSRF };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (resp) {
      return resp.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        return { ok: resp.ok, status: resp.status, data: data };
      });
    });
  }
  function act(button, method, path, body, done) {
    say(error, ""); say(status, "");
    if (button) { button.disabled = true; }
    return call(method, path, body).then(function (r) {
      if (button) { button.disabled = false; }
      if (!r.ok) {
        var err = r.data && r.data.error;
        say(error, T.failed.replace("{error}", err ? (err.message || err.code) : "HTTP " + r.status));
        return false;
      }
      say(status, done);
      return true;
    }, function () {
      if (button) { button.disabled = false; }
      say(error, T.network);
      return false;
    });
  }
  function reloadSoon(ok) { if (ok) { window.setTimeout(function () { window.location.reload(); }, 400); } }

  var form = document.getElementById("report-form");
  function draft() {
    return {
      findings: form.elements.findings.value,
      impression: form.elements.impression.value,
      critical: form.elements.critical.checked
    };
  }
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      act(document.getElementById("report-save"), "PUT", url, draft(), T.saved).then(reloadSoon);
    });
    var template = document.getElementById("report-template");
    if (template) {
      template.addEventListener("click", function () {
        var findings = form.elements.findings;
        if (findings.value.trim() && !window.confirm(T.replace_text)) { return; }
        findings.value = template.dataset.template;
        findings.focus();
      });
    }
    var sign = document.getElementById("report-sign");
    if (sign) {
      sign.addEventListener("click", function () {
        if (!form.reportValidity() || !window.confirm(T.confirm_sign)) { return; }
        // The text on screen is what gets signed: save it first, then sign.
        act(sign, "PUT", url, draft(), T.saved).then(function (ok) {
          if (!ok) { return; }
          // Signed in the language the radiologist reads the page in.
          var lang = (document.documentElement.lang || "").slice(0, 2);
          var query = /^(en|fa|ru|tr|zh)$/.test(lang) ? "?locale=" + lang : "";
          act(sign, "POST", url + "/sign" + query, undefined, T.signed).then(reloadSoon);
        });
      });
    }
  }
  var amend = document.getElementById("amend-form");
  if (amend) {
    amend.addEventListener("submit", function (ev) {
      ev.preventDefault();
      act(document.getElementById("amend-start"), "POST", url + "/amend",
        { reason: amend.elements.reason.value }, T.amending).then(reloadSoon);
    });
  }
  var receive = document.getElementById("report-receive");
  if (receive) {
    receive.addEventListener("click", function () {
      act(receive, "POST", url + "/countersign", undefined, T.received).then(reloadSoon);
    });
  }
}());

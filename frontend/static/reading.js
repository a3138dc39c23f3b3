/* Reading pages: claim a study, raise a critical result, acknowledge one. No framework; changes
   go through the JSON API with the page's CSRF token, then the page reloads to show the result. */
(function () {
  "use strict";
  var app = document.getElementById("reading-app");
  if (!app) { return; }
  var T = JSON.parse(document.getElementById("reading-text").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var status = app.querySelector('[data-role="status"]');
  var error = app.querySelector('[data-role="error"]');

  function say(el, text) { if (el) { el.textContent = text || ""; } }
  function errorText(data, code) {
    var err = data && data.error;
    return T.failed.replace("{error}", err ? (err.message || err.code) : "HTTP " + code);
  }
  function api(method, path, body) {
    var h = { "Accept": "application/json", "X-CSRFToken": CSRF };
    if (body !== undefined) { h["Content-Type"] = "application/json"; }
    return fetch("/api/v1" + path, {
      method: method, headers: h, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (resp) {
      return resp.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        return { ok: resp.ok, status: resp.status, data: data };
      });
    });
  }
  function send(method, path, body, done, then) {
    say(error, ""); say(status, "");
    api(method, path, body).then(function (r) {
      if (!r.ok) { say(error, errorText(r.data, r.status)); return; }
      say(status, done);
      then(r.data);
    }, function () { say(error, T.network); });
  }

  Array.prototype.forEach.call(app.querySelectorAll("[data-claim]"), function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      send("POST", "/reading-requests/" + button.dataset.claim + "/claim", undefined, T.claimed,
        function (data) { window.location.href = "/reading/requests/" + data.id; });
      button.disabled = false;
    });
  });

  var critical = document.getElementById("critical-form");
  if (critical) {
    critical.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {
        category: parseInt(critical.elements.category.value, 10),
        finding: critical.elements.finding.value
      };
      send("POST", "/reading-requests/" + app.dataset.request + "/critical-results", body,
        T.raised, function (data) { window.location.href = "/reading/critical-results/" + data.id; });
    });
  }

  var sendForm = document.getElementById("send-form");
  if (sendForm) {
    sendForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var e = sendForm.elements;
      var body = {
        study_instance_uid: e.study_instance_uid.value.trim(),
        urgency: e.urgency.value,
        clinical_question: e.clinical_question.value
      };
      if (e.technician.value.trim()) { body.technician = e.technician.value.trim(); }
      send("POST", "/reading-requests", body, T.sent,
        function (data) { window.location.href = "/reading/requests/" + data.id; });
    });
  }

  var ack = document.getElementById("ack-form");
  if (ack) {
    ack.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = { method: ack.elements.method.value, read_back: ack.elements.read_back.value };
      send("POST", "/critical-results/" + app.dataset.result + "/acknowledge", body,
        T.acknowledged, function () { window.location.reload(); });
    });
  }
}());

/* Quality-control pages: score a peer review, grade image quality, record a follow-up. No
   framework; changes go through the JSON API with the page's CSRF token, then the page reloads. */
(function () {
  "use strict";
  var app = document.getElementById("qc-app");
  var textEl = document.getElementById("qc-text");
  if (!app || !textEl) { return; }
  var T = JSON.parse(textEl.textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var status = app.querySelector('[data-role="status"]');
  var error = app.querySelector('[data-role="error"]');

  function say(el, text) { if (el) { el.textContent = text || ""; } }
  function errorText(data, code) {
    var err = data && data.error;
    return T.failed.replace("{error}", err ? (err.message || err.code) : "HTTP " + code);
  }
  function send(method, path, body) {
    say(error, ""); say(status, "");
    fetch("/api/v1" + path, {
      method: method, credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": CSRF }
    }).then(function (resp) {
      return resp.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!resp.ok) { say(error, errorText(data, resp.status)); return; }
        say(status, T.saved);
        window.location.reload();
      });
    }, function () { say(error, T.network); });
  }

  var reviewForm = document.getElementById("review-form");
  if (reviewForm) {
    reviewForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var picked = reviewForm.querySelector('input[name="score"]:checked');
      var score = picked ? picked.value : "1";
      var comment = reviewForm.elements.comment.value.trim();
      if (["2b", "3a", "3b"].indexOf(score) >= 0 && !comment) { say(error, T.comment_needed); return; }
      var body = { score: score };
      if (comment) { body.comment = comment; }
      send("POST", "/peer-reviews/" + app.dataset.review, body);
    });
  }

  var qualityForm = document.getElementById("quality-form");
  if (qualityForm) {
    qualityForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var grade = qualityForm.elements.grade.value;
      var defect = qualityForm.elements.defect.value.trim();
      if (grade === "poor" && !defect) { say(error, T.defect_needed); return; }
      var body = { grade: grade };
      if (defect) { body.defect = defect; }
      send("PUT", "/reading-requests/" + app.dataset.request + "/image-quality", body);
    });
  }

  var followUp = document.getElementById("followup-form");
  if (followUp) {
    followUp.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var e = followUp.elements;
      send("POST", "/reading-requests/" + app.dataset.request + "/follow-up", {
        source: e.source.value, final_diagnosis: e.final_diagnosis.value.trim(),
        agreement: e.agreement.value
      });
    });
  }
}());

/* Consult page: open the consult's open video session, or start one (instant). */
(function () {
  "use strict";
  var box = document.getElementById("video-launch");
  if (!box) { return; }
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var url = "/api/v1/consults/" + box.dataset.consultId + "/video-sessions";
  var error = document.getElementById("video-launch-error");
  function fail(resp) {
    return resp.json().then(function (d) { error.textContent = d.error.message; });
  }
  document.getElementById("video-open").addEventListener("click", function () {
    error.textContent = "";
    fetch(url, { credentials: "same-origin" }).then(function (resp) {
      if (!resp.ok) { return fail(resp); }
      return resp.json().then(function (list) {
        var open = list.items.filter(function (s) { return s.status === "open"; })[0];
        if (open) { location.href = open.join_url; return; }
        return fetch(url, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF },
          body: JSON.stringify({ kind: "instant" })
        }).then(function (created) {
          if (!created.ok) { return fail(created); }
          return created.json().then(function (s) { location.href = s.join_url; });
        });
      });
    }).catch(function () { error.textContent = "—"; });
  });
})();

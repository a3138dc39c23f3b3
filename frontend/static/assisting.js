/* The assisting physicians page: each row's form designates (or removes) the region's assisting
   physician for its specialty through the JSON API, and says whether it was saved. */
(function () {
  "use strict";
  var table = document.getElementById("assisting");
  if (!table) { return; }
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  table.addEventListener("submit", function (ev) {
    var form = ev.target.closest("form.assisting");
    if (!form) { return; }
    ev.preventDefault();
    var result = form.querySelector(".result");
    var chosen = form.querySelector("select");
    fetch("/api/v1/regions/" + encodeURIComponent(table.dataset.region) + "/assisting-physicians/" +
          encodeURIComponent(form.dataset.specialty), {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF },
      body: JSON.stringify({ username: chosen.value || null })
    }).then(function (resp) {
      return resp.json().then(function (data) { return { ok: resp.ok, data: data }; });
    }).then(function (answer) {
      if (answer.ok) {
        result.textContent = table.dataset.saved;
        var current = form.closest("tr").querySelector(".current");
        current.textContent = answer.data.name || "—";
      } else {
        var err = answer.data && answer.data.error;
        result.textContent = table.dataset.failed + " " + ((err && err.message) || "");
      }
    });
  });
}());

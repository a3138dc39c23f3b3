/* Command alerts: the panel is fetched again whenever the region's command room announces an
   alert (raised or taken), a new one plays a short tone, and "Take" claims it through the API
   (a 409 says who took it first). After a reconnect the panel is fetched at once, so nothing
   raised while offline is missed; a slow poll covers readers without a live connection. */
(function () {
  "use strict";

  function start() {
    var box = document.getElementById("command-alerts");
    if (!box) { return; }
    var panel = document.getElementById("command-alerts-panel");
    var status = document.getElementById("command-alerts-status");
    var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content;
    var sound = box.dataset.sound ? new Audio(box.dataset.sound) : null;
    var known = null;  // ids of the open alerts last shown; null before the first fetch
    var pending = null;
    var connectedOnce = false;

    function openIds() {
      return Array.prototype.map.call(
        panel.querySelectorAll(".open-alerts .alert-row"),
        function (row) { return row.dataset.alertId; }
      );
    }

    function ring() {
      if (!sound) { return; }
      sound.currentTime = 0;
      var played = sound.play();
      box.dataset.rang = String((parseInt(box.dataset.rang, 10) || 0) + 1);
      if (played && played.catch) { played.catch(function () { /* autoplay refused */ }); }
    }

    function refresh() {
      pending = null;
      fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (resp) { return resp.ok ? resp.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          panel.innerHTML = html;
          if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(panel); }
          var ids = openIds();
          var fresh = known === null ? [] : ids.filter(function (id) { return known.indexOf(id) < 0; });
          known = ids;
          if (fresh.length) {
            ring();
            if (status) { status.textContent = box.dataset["new"]; }
          }
          box.dataset.refreshed = String(Date.now());
        })
        .catch(function () { /* offline for a moment: the next event or tick tries again */ });
    }
    function soon() { if (pending === null) { pending = setTimeout(refresh, 200); } }

    panel.addEventListener("click", function (ev) {
      var button = ev.target.closest && ev.target.closest("button.take");
      if (!button) { return; }
      button.disabled = true;
      var result = button.parentNode.querySelector(".take-result");
      fetch("/api/v1/command/alerts/" + button.dataset.alertId + "/take", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF }
      }).then(function (resp) {
        return resp.json().then(function (data) { return { ok: resp.ok, data: data }; });
      }).then(function (answer) {
        if (!answer.ok) {
          var err = answer.data && answer.data.error;
          if (result) { result.textContent = box.dataset.failed + " " + ((err && err.message) || ""); }
        }
        refresh();
      }).catch(function () { button.disabled = false; });
    });

    refresh();
    setInterval(refresh, 30000);
    if (typeof window.io !== "function") { return; }
    var socket = window.io({ transports: ["websocket", "polling"], tryAllTransports: true });
    socket.on("connect", function () {
      if (connectedOnce) { refresh(); }
      connectedOnce = true;
      box.dataset.live = "1";
    });
    socket.on("disconnect", function () { box.dataset.live = "0"; });
    socket.on("command.alert", soon);
    socket.on("command.alert_taken", soon);
  }

  // After every deferred script has run (Socket.IO's client may come after this one on the
  // page): a deferred script runs before DOMContentLoaded, while the state is "interactive".
  if (document.readyState === "complete") {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
}());

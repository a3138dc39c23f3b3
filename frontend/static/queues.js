/* The queue board refreshes its tables in place (a wall screen is never reloaded by hand). */
(function () {
  "use strict";
  var box = document.getElementById("queue-tables");
  if (!box) { return; }
  var every = (parseInt(box.dataset.every, 10) || 30) * 1000;
  function refresh() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        box.innerHTML = html;
        if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(box); }
      })
      .catch(function () { /* offline for a moment: the next tick tries again */ });
  }
  setInterval(refresh, every);
}());

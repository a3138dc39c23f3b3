/* The queue board stays current without a reload: a consult change in the region arrives over
   Socket.IO (the command room) and the tables are fetched again (changes in a burst, once);
   after a reconnect the board fetches at once, catching up on what it missed. A slow poll
   remains for readers without a live connection (national administrators, blocked sockets). */
(function () {
  "use strict";
  var box = document.getElementById("queue-tables");
  if (!box) { return; }
  var state = document.getElementById("queue-live");
  var every = (parseInt(box.dataset.every, 10) || 30) * 1000;
  var pending = null;
  var connectedOnce = false;

  function say(text) { if (state) { state.textContent = text || ""; } }

  function refresh() {
    pending = null;
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        box.innerHTML = html;
        box.dataset.refreshed = String(Date.now());
        if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(box); }
      })
      .catch(function () { /* offline for a moment: the next change or tick tries again */ });
  }
  function soon() { if (pending === null) { pending = setTimeout(refresh, 300); } }

  setInterval(refresh, every);
  if (typeof window.io !== "function") { return; }
  var socket = window.io({ transports: ["websocket", "polling"], tryAllTransports: true });
  socket.on("connect", function () {
    say(box.dataset.liveOn);
    if (connectedOnce) { refresh(); }
    connectedOnce = true;
  });
  socket.on("disconnect", function () { say(box.dataset.liveOff); });
  socket.on("connect_error", function () { say(box.dataset.liveOff); });
  socket.on("consult.updated", soon);
}());

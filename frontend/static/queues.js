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

  var STATES = JSON.parse((document.getElementById("queue-text") || {}).textContent || "{}");
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content;

  /* An officer choosing whom to reassign to must not have the form replaced under them. */
  function busy() {
    return Array.prototype.some.call(box.querySelectorAll("form.reassign select"), function (el) {
      return el.value !== "" || el === document.activeElement;
    });
  }

  function fillOnCall(form) {
    var select = form.querySelector("select");
    if (select.dataset.loaded) { return; }
    select.dataset.loaded = "1";
    fetch("/api/v1/consults/" + form.dataset.consultId + "/on-call", { credentials: "same-origin" })
      .then(function (resp) { return resp.json(); })
      .then(function (data) {
        var items = (data && data.items) || [];
        if (!items.length) {
          form.querySelector(".reassign-result").textContent = box.dataset.noneOnCall;
        }
        items.forEach(function (o) {
          var opt = document.createElement("option");
          opt.value = o.user_id;
          opt.textContent = o.name + " — " + o.facility + " (" + (STATES[o.state] || o.state) + ")";
          select.appendChild(opt);
        });
      });
  }

  box.addEventListener("focusin", function (ev) {
    var form = ev.target.closest && ev.target.closest("form.reassign");
    if (form) { fillOnCall(form); }
  });
  box.addEventListener("submit", function (ev) {
    var form = ev.target.closest("form.reassign");
    if (!form) { return; }
    ev.preventDefault();
    var result = form.querySelector(".reassign-result");
    var select = form.querySelector("select");
    if (!select.value) { return; }
    form.querySelector("button").disabled = true;
    fetch("/api/v1/consults/" + form.dataset.consultId + "/reassign", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF },
      body: JSON.stringify({ specialist_id: parseInt(select.value, 10) })
    }).then(function (resp) {
      return resp.json().then(function (data) { return { ok: resp.ok, data: data }; });
    }).then(function (answer) {
      if (answer.ok) {
        result.textContent = box.dataset.done;
        select.value = "";
        setTimeout(refresh, 1500);
      } else {
        var err = answer.data && answer.data.error;
        result.textContent = box.dataset.failed + " " + ((err && err.message) || "");
        form.querySelector("button").disabled = false;
      }
    });
  });

  function refresh() {
    pending = null;
    if (busy()) { pending = setTimeout(refresh, 5000); return; }
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

/* Transfer pages: the request form and the moves go through the JSON API; a transfer coming
   to this facility (or changing) is announced with a banner and a short tone, and the list
   reloads itself so the receiving staff never miss one. */
(function () {
  "use strict";
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content;

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().then(function (data) { return { ok: resp.ok, data: data }; });
    });
  }
  function problem(data) {
    var err = data && data.error;
    if (!err) { return ""; }
    var text = err.message || err.code;
    if (Array.isArray(err.details)) {
      text += " " + err.details.map(function (d) {
        return (d.field ? d.field + ": " : "") + (d.problem || "");
      }).join("; ");
    }
    return text;
  }
  function number(value) {
    var n = parseInt(value, 10);
    return isNaN(n) ? null : n;
  }

  var form = document.getElementById("transfer-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {
        patient_id: number(form.patient_id.value),
        reason: form.reason.value,
        severity: number(form.severity.value),
        emergency: form.emergency.checked
      };
      if (number(form.consult_id.value) !== null) { body.consult_id = number(form.consult_id.value); }
      if (number(form.distance_km.value) !== null) { body.distance_km = number(form.distance_km.value); }
      if (form.specialty && form.specialty.value) { body.specialty = form.specialty.value; }
      post("/api/v1/transfers", body).then(function (answer) {
        if (answer.ok) { window.location.href = "/transfers/" + answer.data.id; return; }
        document.getElementById("transfer-error").textContent = problem(answer.data);
      });
    });
  }

  var move = document.getElementById("move-form");
  var box = document.getElementById("transfer");
  if (move && box) {
    move.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var target = ev.submitter && ev.submitter.value;
      if (!target) { return; }
      var body = { to: target };
      if (move.destination && move.destination.value) { body.destination = move.destination.value; }
      if (move.note.value) { body.note = move.note.value; }
      post("/api/v1/transfers/" + box.dataset.transferId + "/transition", body).then(function (answer) {
        if (answer.ok) { window.location.reload(); return; }
        document.getElementById("move-error").textContent = problem(answer.data);
      });
    });
  }

  /* The thread: messages arrive over Socket.IO (ids only) and are read through the API; each
     is added once, in order, so a burst or a reconnect never duplicates one. */
  var thread = document.getElementById("thread");
  function addMessage(list, m) {
    if (list.querySelector('[data-message-id="' + m.id + '"]')) { return; }
    var li = document.createElement("li");
    li.dataset.messageId = String(m.id);
    var author = document.createElement("bdi");
    author.className = "author";
    author.textContent = m.author;
    var when = document.createElement("time");
    when.dateTime = m.at;
    when.setAttribute("data-short", "");
    when.textContent = m.at;
    var text = document.createElement("span");
    text.className = "text";
    text.dir = "auto";
    text.textContent = m.text;
    li.appendChild(author);
    li.appendChild(document.createTextNode(" · "));
    li.appendChild(when);
    li.appendChild(document.createElement("br"));
    li.appendChild(text);
    list.appendChild(li);
    if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(li); }
  }
  function loadThread() {
    var list = document.getElementById("thread-messages");
    var url = "/api/v1/transfers/" + thread.dataset.transferId + "/messages?limit=200";
    fetch(url, { credentials: "same-origin" })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.items.forEach(function (m) { addMessage(list, m); });
        document.getElementById("thread-empty").hidden = list.children.length > 0;
      })
      .catch(function () { /* offline for a moment: the next message or reconnect retries */ });
  }
  var threadForm = document.getElementById("thread-form");
  if (thread && threadForm) {
    threadForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = threadForm.text.value.trim();
      if (!text) { return; }
      post("/api/v1/transfers/" + thread.dataset.transferId + "/messages", { text: text })
        .then(function (answer) {
          if (answer.ok) {
            threadForm.text.value = "";
            document.getElementById("thread-error").textContent = "";
            addMessage(document.getElementById("thread-messages"), answer.data);
            document.getElementById("thread-empty").hidden = true;
            return;
          }
          document.getElementById("thread-error").textContent =
            thread.dataset.failed + " " + problem(answer.data);
        });
    });
  }

  function tone() {
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.3);
    } catch (e) { /* no audio here: the banner says it */ }
  }
  var banner = document.getElementById("transfer-alert");
  if (!banner || typeof window.io !== "function") { return; }
  var socket = window.io({ transports: ["websocket", "polling"], tryAllTransports: true });
  function announce(data) {
    if (box && data && String(data.transfer_id) !== box.dataset.transferId) { return; }
    banner.textContent = banner.dataset.text;
    banner.hidden = false;
    tone();
    if (!box) {
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (resp) { return resp.text(); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("transfer-list");
          var list = document.getElementById("transfer-list");
          if (fresh && list) {
            list.innerHTML = fresh.innerHTML;
            if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(list); }
          }
        });
    }
  }
  socket.on("transfer.alert", announce);
  socket.on("transfer.updated", announce);
  socket.on("transfer.message", function (data) {
    if (thread && data && String(data.transfer_id) === thread.dataset.transferId) { loadThread(); }
  });
  socket.on("connect", function () { if (thread) { loadThread(); } });  // catch up after a gap
}());

/* The command centre stays current without a reload, like the queue board: a change in the
   region (a consult, a transfer, a critical result) arrives over Socket.IO and the sections are
   fetched again (a burst of changes, once); after a reconnect the board fetches at once to catch
   up; a slow poll remains for readers without a live connection. The charts are drawn from the
   figures the sections carry (the tables beside them say the same for screen readers). */
(function () {
  "use strict";
  var box = document.getElementById("board");
  if (!box) { return; }
  var state = document.getElementById("board-live");
  var every = (parseInt(box.dataset.every, 10) || 30) * 1000;
  var TEXT = JSON.parse((document.getElementById("board-text") || {}).textContent || "{}");
  var rtl = document.documentElement.dir === "rtl";
  var lang = document.documentElement.lang || "en";
  var charts = [];
  var pending = null;
  var connectedOnce = false;
  // Colour-blind-safe hues (Okabe–Ito); the legend and the tables name every series.
  var URGENCY_COLOURS = { emergency: "#D55E00", urgent: "#E69F00", routine: "#0072B2" };

  function say(text) { if (state) { state.textContent = text || ""; } }

  function common() {
    return {
      animation: false,  // no motion: a wall screen redraws often, and some readers need stillness
      responsive: true,
      maintainAspectRatio: false,
      locale: lang,
      plugins: {
        legend: { rtl: rtl, textDirection: rtl ? "rtl" : "ltr", position: "bottom" },
        tooltip: { rtl: rtl, textDirection: rtl ? "rtl" : "ltr" }
      }
    };
  }

  function draw() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    if (typeof window.Chart !== "function") { return; }
    var data = JSON.parse((document.getElementById("board-data") || {}).textContent || "{}");
    var open = document.getElementById("chart-open");
    if (open && data.specialties) {
      var options = common();
      options.scales = {
        x: { stacked: true, reverse: rtl },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, position: rtl ? "right" : "left",
             title: { display: true, text: TEXT.consults || "" } }
      };
      charts.push(new window.Chart(open, {
        type: "bar",
        data: {
          labels: data.specialties,
          datasets: data.urgencies.map(function (u) {
            return { label: u.label, data: u.counts, backgroundColor: URGENCY_COLOURS[u.key] };
          })
        },
        options: options
      }));
    }
    var wait = document.getElementById("chart-wait");
    if (wait && data.waits) {
      var waitOptions = common();
      waitOptions.indexAxis = "y";  // long specialty names read best along the side
      waitOptions.scales = {
        x: { beginAtZero: true, reverse: rtl, title: { display: true, text: TEXT.minutes || "" } },
        y: { position: rtl ? "right" : "left" }
      };
      charts.push(new window.Chart(wait, {
        type: "bar",
        data: {
          labels: data.waits.map(function (w) { return w.label; }),
          datasets: [
            { label: TEXT.median, data: data.waits.map(function (w) { return w.median; }), backgroundColor: "#009E73" },
            { label: TEXT.p90, data: data.waits.map(function (w) { return w.p90; }), backgroundColor: "#CC79A7" }
          ]
        },
        options: waitOptions
      }));
    }
    box.dataset.charts = String(charts.length);
  }

  function refresh() {
    pending = null;
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        box.innerHTML = html;
        box.dataset.refreshed = String(Date.now());
        if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(box); }
        draw();
      })
      .catch(function () { /* offline for a moment: the next change or tick tries again */ });
  }
  function soon() { if (pending === null) { pending = setTimeout(refresh, 300); } }

  draw();
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
  ["consult.updated", "transfer.alert", "transfer.updated", "critical_result"]
    .forEach(function (name) { socket.on(name, soon); });
}());

/* Horizontal bar charts drawn with Chart.js from canvas[data-bar-chart] (labels, values and the
   values as the page writes them, as JSON attributes). No animation; right-to-left pages get
   their axis on the right. The table beside each chart says the same in text. */
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") { return; }
  var rtl = document.documentElement.dir === "rtl";
  Array.prototype.forEach.call(document.querySelectorAll("canvas[data-bar-chart]"), function (canvas) {
    var labels = JSON.parse(canvas.dataset.labels || "[]");
    var values = JSON.parse(canvas.dataset.values || "[]");
    var texts = JSON.parse(canvas.dataset.texts || "[]");
    canvas.parentNode.style.height = Math.max(120, labels.length * 34 + 40) + "px";
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ data: values, backgroundColor: "#2f6f9f" }] },
      options: {
        indexAxis: "y",
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        locale: document.documentElement.lang || "en",
        plugins: {
          legend: { display: false },
          tooltip: {
            rtl: rtl,
            callbacks: { label: function (item) { return texts[item.dataIndex] || String(item.raw); } }
          }
        },
        scales: {
          x: { reverse: rtl, beginAtZero: true },
          y: { position: rtl ? "right" : "left" }
        }
      }
    });
  });
}());

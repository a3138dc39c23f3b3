// The link viewer: series scroll (slider, wheel, arrow keys) and window/level (inputs, drag).
(function () {
  "use strict";
  const root = document.querySelector(".imaging-viewer");
  const data = document.getElementById("series-data");
  if (!root || !data) return;
  const series = JSON.parse(data.textContent);
  const frameUrl = root.dataset.frameUrl; // .../frames/0/0.png: instance and frame replaced
  const seriesUrl = root.dataset.seriesUrl; // .../series/UID.json: the series' UID replaced
  // Each series comes with its first page of frames and its total; further pages are asked
  // for as the slider reaches them (never one list of every frame).
  const fetching = {};
  const img = document.getElementById("frame");
  const pick = document.getElementById("series");
  const slice = document.getElementById("slice");
  const label = document.getElementById("slice-label");
  const wc = document.getElementById("wc");
  const ww = document.getElementById("ww");
  let current = 0;
  let pending = null;
  // The controls act at once; Enter in a number field must not submit (reload) the page.
  document.getElementById("viewer-controls").addEventListener("submit", function (event) {
    event.preventDefault();
  });

  function url(instance, frame) {
    const base = frameUrl.replace(/\/0\/0\.png$/, "/" + instance + "/" + frame + ".png");
    const params = new URLSearchParams();
    if (wc.value !== "" && ww.value !== "") { params.set("wc", wc.value); params.set("ww", ww.value); }
    const query = params.toString();
    return query ? base + "?" + query : base;
  }

  function more(which) {
    const s = series[which];
    if (fetching[which] || s.frames.length >= s.total) return;
    fetching[which] = true;
    const url = seriesUrl.replace(/SERIES\.json$/, encodeURIComponent(s.uid) + ".json") +
      "?start=" + s.frames.length;
    fetch(url, { credentials: "same-origin" }).then(function (resp) {
      if (!resp.ok) throw new Error(resp.status);
      return resp.json();
    }).then(function (page) {
      if (page.start === s.frames.length) s.frames = s.frames.concat(page.frames);
      if (page.next === null) s.total = s.frames.length;
    }).catch(function () {
      s.total = s.frames.length; // stop asking; what is loaded stays usable
    }).finally(function () {
      delete fetching[which];
      if (which === current) show();
    });
  }

  function show() {
    const s = series[current];
    const frames = s.frames;
    const wanted = Math.min(Math.max(parseInt(slice.value, 10) || 0, 0), s.total - 1);
    label.textContent = (wanted + 1) + " / " + s.total;
    if (wanted >= frames.length) { more(current); return; }
    const index = wanted;
    const [instance, frame] = frames[index];
    // Coalesce rapid scrolling: only the latest requested frame is loaded.
    pending = url(instance, frame);
    if (!img.dataset.loading) load();
  }

  function load() {
    const next = pending;
    pending = null;
    img.dataset.loading = "1";
    fetch(next, { credentials: "same-origin" }).then(function (resp) {
      if (!resp.ok) throw new Error(resp.status);
      const win = (resp.headers.get("X-Window") || "").split("/");
      if (win.length === 2 && wc.value === "" && ww.value === "") {
        wc.placeholder = win[0]; ww.placeholder = win[1];
      }
      return resp.blob();
    }).then(function (blob) {
      const old = img.src;
      img.src = URL.createObjectURL(blob);
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    }).catch(function () {
      img.alt = "unavailable";
    }).finally(function () {
      delete img.dataset.loading;
      if (pending) load();
    });
  }

  function selectSeries() {
    current = parseInt(pick.value, 10) || 0;
    slice.max = String(series[current].total - 1);
    slice.value = "0";
    show();
  }

  pick.addEventListener("change", selectSeries);
  slice.addEventListener("input", show);
  wc.addEventListener("change", show);
  ww.addEventListener("change", show);
  document.getElementById("reset").addEventListener("click", function () {
    wc.value = ""; ww.value = ""; show();
  });
  img.addEventListener("wheel", function (e) {
    e.preventDefault();
    slice.value = String((parseInt(slice.value, 10) || 0) + (e.deltaY > 0 ? 1 : -1));
    show();
  }, { passive: false });
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" || e.key === "ArrowRight") { slice.value = String(+slice.value + 1); show(); }
    if (e.key === "ArrowUp" || e.key === "ArrowLeft") { slice.value = String(+slice.value - 1); show(); }
  });
  let drag = null;
  img.addEventListener("pointerdown", function (e) {
    drag = { x: e.clientX, y: e.clientY,
             c: parseFloat(wc.value || wc.placeholder || "40"), w: parseFloat(ww.value || ww.placeholder || "400") };
    img.setPointerCapture(e.pointerId);
  });
  img.addEventListener("pointermove", function (e) {
    if (!drag) return;
    ww.value = String(Math.max(1, Math.round(drag.w + (e.clientX - drag.x) * 2)));
    wc.value = String(Math.round(drag.c + (e.clientY - drag.y) * 2));
  });
  img.addEventListener("pointerup", function () { if (drag) { drag = null; show(); } });
  selectSeries();
})();

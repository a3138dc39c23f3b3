// Browser upload of DICOM files or a zip, with a progress bar (XHR reports upload progress).
(function () {
  "use strict";
  const form = document.getElementById("upload");
  if (!form) return;
  const input = document.getElementById("files");
  const bar = document.getElementById("progress");
  const out = document.getElementById("result");
  const token = document.querySelector('meta[name="csrf-token"]').content;
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    const data = new FormData();
    for (const file of input.files) data.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.url);
    xhr.setRequestHeader("X-CSRFToken", token);
    xhr.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) { bar.hidden = false; bar.value = Math.round(ev.loaded * 100 / ev.total); }
    });
    xhr.addEventListener("load", function () {
      bar.value = 100;
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
      if (xhr.status === 200) {
        out.textContent = body.stored + " stored, " + body.duplicates + " already there, " +
          body.refused.length + " refused" +
          (body.refused.length ? ": " + body.refused.map(function (r) { return r.file + " (" + r.reason + ")"; }).join("; ") : "");
      } else {
        out.textContent = (body.error && body.error.message) || ("Error " + xhr.status);
      }
    });
    xhr.addEventListener("error", function () { out.textContent = "Network error"; });
    xhr.send(data);
  });
})();

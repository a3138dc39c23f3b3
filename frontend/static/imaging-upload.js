// Browser upload of DICOM files or a zip, with a progress bar (XHR reports upload progress).
(function () {
  "use strict";
  const form = document.getElementById("upload");
  if (!form) return;
  const input = document.getElementById("files");
  const bar = document.getElementById("progress");
  const out = document.getElementById("result");
  const token = document.querySelector('meta[name="csrf-token"]').content;
  // The page's language: the template gives each message with {placeholders}.
  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) { return String(values[key]); });
  }
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
        out.textContent = say(form.dataset.textResult, {
          stored: body.stored, duplicates: body.duplicates, refused: body.refused.length,
        }) + (body.refused.length ? ": " + body.refused.map(function (r) { return r.file + " (" + r.reason + ")"; }).join("; ") : "");
      } else {
        out.textContent = (body.error && body.error.message) || say(form.dataset.textError, { status: xhr.status });
      }
    });
    xhr.addEventListener("error", function () { out.textContent = form.dataset.textNetwork; });
    xhr.send(data);
  });
})();

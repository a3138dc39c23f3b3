// Browser upload of DICOM files or a zip, with a progress bar (XHR reports upload progress);
// afterwards a link to each study the upload stored (also when the hub refused some files).
(function () {
  "use strict";
  const form = document.getElementById("upload");
  if (!form) return;
  const input = document.getElementById("files");
  const bar = document.getElementById("progress");
  const out = document.getElementById("result");
  const box = document.getElementById("upload-studies");
  const token = document.querySelector('meta[name="csrf-token"]').content;
  // The page's language: the template gives each message with {placeholders}.
  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) { return String(values[key]); });
  }
  function showStudies(uids) {
    const list = box.querySelector("ul");
    list.textContent = "";
    (uids || []).forEach(function (uid) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = form.dataset.studyUrl.replace("UID", encodeURIComponent(uid));
      link.className = "study-link";
      // The UID is isolated so it reads left to right inside right-to-left text.
      const parts = form.dataset.textStudy.split("{uid}");
      link.append(parts[0]);
      const id = document.createElement("bdi");
      id.textContent = uid;
      link.append(id);
      link.append(parts[1] || "");
      item.append(link);
      list.append(item);
    });
    box.querySelector("p").textContent = form.dataset.textStudies;
    box.hidden = !(uids && uids.length);
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    const data = new FormData();
    for (const file of input.files) data.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.url);
    xhr.setRequestHeader("X-CSRFToken", token);
    xhr.setRequestHeader("Accept", "application/json");
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
        showStudies(body.studies);
      } else {
        out.textContent = (body.error && body.error.message) || say(form.dataset.textError, { status: xhr.status });
        // A refused upload's details are what it did store: those files stay stored.
        const details = body.error && body.error.details;
        showStudies(details && Array.isArray(details.studies) ? details.studies : []);
      }
    });
    xhr.addEventListener("error", function () { out.textContent = form.dataset.textNetwork; });
    xhr.send(data);
  });
})();

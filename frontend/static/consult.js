/* Consult pages: the new-request draft, claim/decline, conversation, outcome and live updates.
   No framework; changes go through the JSON API with the page's CSRF token. */
(function () {
  "use strict";
  var app = document.getElementById("consult-app");
  if (!app) { return; }
  var T = JSON.parse(document.getElementById("consult-text").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var API = "/api/v1";
  var page = app.dataset.page;

  function $(sel, root) { return (root || document).querySelector(sel); }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) {
      return values[key] === undefined ? all : String(values[key]);
    });
  }
  function say(el, text) { if (el) { el.textContent = text || ""; } }

  /* Local times and calendars: hub.js formats every <time> (Solar Hijri in Persian); parts
     replaced after load are formatted again through it. */
  function localTimes(root) {
    if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(root || document); }
  }

  /* The API's error body is {"error": {"code", "message", "details"}}. */
  function errorText(data, status) {
    var err = data && data.error;
    if (!err) { return "HTTP " + status; }
    var text = err.message || err.code;
    if (Array.isArray(err.details)) {
      text += " " + err.details.map(function (d) {
        return (d.field ? d.field + ": " : "") + (d.problem || "");
      }).join("; ");
    }
    return text;
  }

  /* fetch() with JSON both ways; rejects only when the hub could not be reached. */
  function api(method, path, body, headers) {
    var h = { "Accept": "application/json", "X-CSRFToken": CSRF };
    if (body !== undefined) { h["Content-Type"] = "application/json"; }
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(API + path, {
      method: method, headers: h, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (resp) {
      return resp.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        return { ok: resp.ok, status: resp.status, data: data };
      });
    });
  }

  /* One file to a consult, with upload progress (fetch cannot report it; XHR can). */
  function kindOf(file, chosen) {
    if (chosen && chosen !== "auto") { return chosen; }
    if (/^audio\//.test(file.type)) { return "audio"; }
    if (file.type === "application/pdf") { return "pdf"; }
    return "photo";
  }
  function upload(consultId, file, list) {
    var item = document.createElement("li");
    var label = document.createElement("span");
    var bar = document.createElement("progress");
    label.textContent = fill(T.uploading, { name: file.name });
    bar.max = file.size || 1;
    bar.value = 0;
    item.appendChild(label);
    item.appendChild(bar);
    list.appendChild(item);
    return new Promise(function (resolve, reject) {
      var max = Number(app.dataset.maxBytes || 0);
      if (max && file.size > max) {
        label.textContent = fill(T.upload_failed, { name: file.name, error: T.too_large });
        reject(new Error(label.textContent));
        return;
      }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", API + "/consults/" + consultId + "/attachments");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", CSRF);
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; }
      };
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status === 201) {
          bar.value = bar.max;
          label.textContent = fill(T.uploaded, { name: file.name });
          resolve(data);
        } else {
          label.textContent = fill(T.upload_failed,
            { name: file.name, error: errorText(data, xhr.status) });
          reject(new Error(label.textContent));
        }
      };
      xhr.onerror = function () {
        label.textContent = fill(T.upload_failed, { name: file.name, error: T.network });
        reject(new Error(label.textContent));
      };
      var form = new FormData();
      form.append("kind", kindOf(file, list.dataset.kind));
      form.append("file", file, file.name);
      xhr.send(form);
    });
  }

  /* Replace a server-rendered part of the page (the services check and audit the read). */
  function refresh(target, url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (html === null) { return false; }
        target.innerHTML = html;
        localTimes(target);
        return true;
      })
      .catch(function () { return false; });
  }

  /* Socket.IO: the session cookie authenticates; events carry ids and states only. */
  function live(handlers) {
    var state = $("#live-state");
    if (!window.io) { return; }
    // Websocket first: one connection (to one web process, however many run on the port)
    // and no polling requests on a slow link; long-polling only where websockets are blocked.
    var socket = window.io({ transports: ["websocket", "polling"], tryAllTransports: true });
    var seen = false;
    socket.on("connect", function () {
      say(state, T.live_on);
      if (seen && handlers.reconnected) { handlers.reconnected(); }
      seen = true;
    });
    socket.on("disconnect", function () { say(state, T.live_off); });
    socket.on("connect_error", function () { say(state, T.live_off); });
    if (handlers.updated) { socket.on("consult.updated", handlers.updated); }
    if (handlers.message) { socket.on("consult.message", handlers.message); }
  }

  function setStatus(row, status) {
    var cell = row.querySelector(".status-cell");
    if (!cell) { return; }
    var badge = document.createElement("span");
    badge.className = "status status-" + status;
    badge.dataset.status = status;
    badge.textContent = T.status[status] || status;
    cell.textContent = "";
    cell.appendChild(badge);
    cell.classList.remove("flash");
    void cell.offsetWidth;  // restart the highlight
    cell.classList.add("flash");
  }

  /* Claim and decline, on the worklist and on a consult page. */
  function offers(done) {
    var errorBox = $("#action-error");
    app.addEventListener("click", function (e) {
      var button = e.target.closest('[data-action="claim"]');
      if (!button) { return; }
      var id = button.dataset.consultId;
      button.disabled = true;
      say(errorBox, "");
      api("POST", "/consults/" + id + "/claim").then(function (r) {
        if (r.ok) { say($("#live-state"), T.claimed); done("claimed", id); return; }
        button.disabled = false;
        say(errorBox, fill(T.failed, { error: errorText(r.data, r.status) }));
        done("conflict", id);
      }, function () { button.disabled = false; say(errorBox, T.network); });
    });
    app.addEventListener("submit", function (e) {
      var form = e.target.closest('form[data-action="decline"]');
      if (!form) { return; }
      e.preventDefault();
      var reason = form.elements.reason.value.trim();
      if (reason.length < 3) { say(errorBox, T.reason_required); form.elements.reason.focus(); return; }
      var id = form.dataset.consultId;
      api("POST", "/consults/" + id + "/decline", { reason: reason }).then(function (r) {
        if (r.ok) { say($("#live-state"), T.declined); done("declined", id); return; }
        say(errorBox, fill(T.failed, { error: errorText(r.data, r.status) }));
        done("conflict", id);
      }, function () { say(errorBox, T.network); });
    });
  }

  /* Lists: the status cell changes at once; rows come from the server when the set changes. */
  function listPage(alwaysReload) {
    var rows = $("#rows");
    var pending = null;
    function reloadRows() {
      if (pending) { return; }
      pending = setTimeout(function () {
        pending = null;
        var reasons = {};
        rows.querySelectorAll('form[data-action="decline"]').forEach(function (f) {
          reasons[f.dataset.consultId] = f.elements.reason.value;
        });
        refresh(rows, rows.dataset.rowsUrl).then(function () {
          rows.querySelectorAll('form[data-action="decline"]').forEach(function (f) {
            var kept = reasons[f.dataset.consultId];
            if (kept) { f.elements.reason.value = kept; f.closest("details").open = true; }
          });
        });
      }, 300);
    }
    live({
      updated: function (data) {
        var row = rows.querySelector(':scope > [data-consult-id="' + data.consult_id + '"]');
        if (row) {
          setStatus(row, data.status);
          say($("#live-state"), fill(T.updated, { id: data.consult_id, status: T.status[data.status] || data.status }));
        }
        if (!row || alwaysReload) { reloadRows(); }
      },
      reconnected: reloadRows
    });
    return reloadRows;
  }

  /* The new-request form: a draft in localStorage, one Idempotency-Key per draft. */
  function newPage() {
    var form = $("#consult-form");
    var statusBox = $("#form-status");
    var errorBox = $("#form-error");
    var send = $("#send");
    var storeKey = "hub.consult-draft." + app.dataset.user;
    var draft = load();

    function load() {
      try { return JSON.parse(localStorage.getItem(storeKey)) || null; } catch (e) { return null; }
    }
    function newKey() {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);  // randomUUID() needs https; health posts may use http
      return "draft-" + Array.prototype.map.call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
    }
    function fields() {
      var values = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.type !== "file") { values[el.name] = el.value; }
      });
      return values;
    }
    function save() {
      draft = draft || { key: newKey() };
      draft.fields = fields();
      draft.savedAt = new Date().toISOString();
      try { localStorage.setItem(storeKey, JSON.stringify(draft)); } catch (e) { return; }
      say(statusBox, T.draft_saved);
    }
    function clear() {
      try { localStorage.removeItem(storeKey); } catch (e) { /* private mode */ }
      draft = null;
    }
    function restore() {
      if (!draft || !draft.fields) { return; }
      Object.keys(draft.fields).forEach(function (name) {
        var el = form.elements[name];
        if (!el || el.type === "file") { return; }
        if (el.tagName === "SELECT" &&
            !Array.prototype.some.call(el.options, function (o) { return o.value === draft.fields[name]; })) {
          return;  // e.g. a patient outside the current search
        }
        el.value = draft.fields[name];
      });
      say(statusBox, T.draft_restored);
      if (draft.consultId) { alreadySent(draft.consultId, T.draft_already_sent); }
    }
    function alreadySent(id, text) {
      errorBox.textContent = "";
      var link = document.createElement("a");
      link.href = "/consults/" + id;
      link.textContent = fill(text, { id: "#" + id });
      errorBox.appendChild(link);
    }
    /* The consult was refused for want of consent: say which, and link to where it is recorded. */
    function consentMissing(scopes, patientId) {
      var names = scopes.map(function (s) { return T.scope[s] || s; });
      errorBox.textContent = "";
      var text = document.createElement("p");
      text.textContent = fill(T.consent_required, { scopes: names.join(", ") });
      errorBox.appendChild(text);
      var template = app.dataset.consentUrl;
      if (!template) { return; }
      scopes.forEach(function (scope) {
        var link = document.createElement("a");
        link.className = "button";
        link.dataset.role = "record-consent";
        link.href = template.replace("{patient}", encodeURIComponent(patientId))
                            .replace("{scope}", encodeURIComponent(scope));
        link.textContent = fill(T.record_consent, { scope: T.scope[scope] || scope });
        var item = document.createElement("p");
        item.appendChild(link);
        errorBox.appendChild(item);
      });
    }
    function payload() {
      var f = form.elements;
      var vitals = {};
      form.querySelectorAll("[data-vital]").forEach(function (el) {
        if (el.value.trim() !== "") { vitals[el.dataset.vital] = Number(el.value); }
      });
      var body = {
        patient_id: Number(f.patient_id.value), specialty: f.specialty.value,
        urgency: f.urgency.value, mode: f.mode.value, tech_level: f.tech_level.value,
        question: f.question.value.trim(), vitals: vitals
      };
      if (f.history.value.trim()) { body.history = f.history.value.trim(); }
      return body;
    }
    function uploadAll(consultId) {
      var list = $("#uploads");
      list.dataset.kind = $("#attachment_kind").value;
      var files = Array.prototype.slice.call($("#files").files || []);
      var failed = false;
      return files.reduce(function (chain, file) {
        return chain.then(function () {
          return upload(consultId, file, list).catch(function () { failed = true; });
        });
      }, Promise.resolve()).then(function () { return !failed; });
    }
    function finish(consultId) {
      uploadAll(consultId).then(function (allUploaded) {
        clear();  // the consult exists: the draft is done even if a file failed
        if (allUploaded) { location.assign("/consults/" + consultId); return; }
        send.disabled = false;
        alreadySent(consultId, T.attach_later);
      });
    }

    restore();
    // Every keystroke is kept at once: a reload or a flat battery loses nothing typed.
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    $("#discard").addEventListener("click", function () {
      if (!window.confirm(T.confirm_discard)) { return; }
      clear();
      form.reset();
      $("#uploads").textContent = "";
      say(errorBox, "");
      say(statusBox, T.draft_discarded);
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!form.reportValidity()) { return; }
      save();
      say(errorBox, "");
      if (draft.consultId) { finish(draft.consultId); return; }
      send.disabled = true;
      say(statusBox, T.sending);
      api("POST", "/consults", payload(), { "Idempotency-Key": draft.key }).then(function (r) {
        if (r.ok && r.data) {
          draft.consultId = r.data.id;
          try { localStorage.setItem(storeKey, JSON.stringify(draft)); } catch (err) { /* full */ }
          finish(r.data.id);
          return;
        }
        send.disabled = false;
        say(statusBox, "");
        var err = r.data && r.data.error;
        if (err && err.code === "idempotency_key_reused" && err.details) {
          alreadySent(err.details.consult_id, T.key_reused);
        } else if (err && err.code === "consent_required" && err.details) {
          consentMissing(err.details.missing_scopes || [], form.elements.patient_id.value);
        } else {
          say(errorBox, fill(T.refused, { error: errorText(r.data, r.status) }));
        }
      }, function () {
        // The request may or may not have arrived; the same key makes a retry safe.
        send.disabled = false;
        say(statusBox, "");
        say(errorBox, T.offline);
      });
    });
  }

  /* One consult: live parts, conversation, attachments, outcome, cancel. */
  function consultPage() {
    var id = app.dataset.consultId;
    var liveBox = $("#live");
    var messages = $("#messages");
    var signature = liveBox.querySelector("[data-signature]").dataset.signature;
    var outcomeForm = $("#outcome-form");

    function dirty() {
      return Array.prototype.some.call(document.querySelectorAll("textarea, input:not([type=file])"),
        function (el) { return el.value && el.value !== el.defaultValue; });
    }
    function refreshLive() {
      refresh(liveBox, liveBox.dataset.url).then(function (ok) {
        var now = ok && liveBox.querySelector("[data-signature]");
        if (now && now.dataset.signature !== signature) {
          if (dirty()) { say($("#live-state"), T.changed); } else { location.reload(); }
        }
      });
    }
    function refreshMessages() { refresh(messages, messages.dataset.url); }

    live({
      updated: function (data) { if (String(data.consult_id) === id) { refreshLive(); } },
      message: function (data) { if (String(data.consult_id) === id) { refreshMessages(); } },
      reconnected: function () { refreshLive(); refreshMessages(); }
    });
    offers(function () { location.reload(); });

    function formParts(form) {
      return { status: form.querySelector('[data-role="status"]'),
               error: form.querySelector('[data-role="error"]'),
               button: form.querySelector('button[type="submit"]') };
    }
    function submitJson(form, path, body, okText, after) {
      var p = formParts(form);
      p.button.disabled = true;
      say(p.error, "");
      api("POST", path, body).then(function (r) {
        p.button.disabled = false;
        if (r.ok) { say(p.status, okText); after(r.data); return; }
        say(p.error, fill(T.failed, { error: errorText(r.data, r.status) }));
      }, function () { p.button.disabled = false; say(p.error, T.network); });
    }

    var messageForm = $("#message-form");
    if (messageForm) {
      messageForm.addEventListener("submit", function (e) {
        e.preventDefault();
        var body = messageForm.elements.body.value.trim();
        if (!body) { return; }
        submitJson(messageForm, "/consults/" + id + "/messages", { body: body }, T.message_sent,
          function () { messageForm.reset(); refreshMessages(); });
      });
    }

    var attachForm = $("#attach-form");
    if (attachForm) {
      attachForm.addEventListener("submit", function (e) {
        e.preventDefault();
        var input = $("#attach-file");
        if (!input.files.length) { return; }
        var list = $("#uploads");
        list.dataset.kind = $("#attach-kind").value;
        var error = attachForm.querySelector('[data-role="error"]');
        say(error, "");
        upload(id, input.files[0], list).then(function () {
          attachForm.reset();
          refreshLive();
        }, function (err) { say(error, err.message); });
      });
    }

    var cancelForm = $("#cancel-form");
    if (cancelForm) {
      cancelForm.addEventListener("submit", function (e) {
        e.preventDefault();
        var reason = cancelForm.elements.reason.value.trim();
        submitJson(cancelForm, "/consults/" + id + "/cancel", { reason: reason }, T.cancelled,
          function () { location.reload(); });
      });
    }

    /* Signed documents: the consultant signs, the requester countersigns (API: the outcome's
       routes are /sign and /countersign, the others' under /prescription/ and /referral/). */
    app.addEventListener("click", function (e) {
      var button = e.target.closest("[data-doc-action]");
      if (!button) { return; }
      var step = button.dataset.docAction;
      var noun = button.dataset.noun;
      var box = button.closest(".sign-box");
      var status = box.querySelector('[data-role="status"]');
      var error = box.querySelector('[data-role="error"]');
      var base = "/consults/" + id + (noun === "outcome" ? "" : "/" + noun);
      button.disabled = true;
      say(error, "");
      say(status, step === "sign" ? T.signing : T.countersigning);
      api("POST", base + "/" + step).then(function (r) {
        if (r.ok) {
          say(status, step === "sign" ? T.signed : T.countersigned);
          refreshLive();
          return;
        }
        button.disabled = false;
        say(status, "");
        say(error, fill(T.failed, { error: errorText(r.data, r.status) }));
      }, function () { button.disabled = false; say(status, ""); say(error, T.network); });
    });

    if (outcomeForm) {
      document.querySelectorAll("[data-add]").forEach(function (button) {
        button.addEventListener("click", function () {
          var kind = button.dataset.add;
          var line = $("#" + kind + "-template").content.firstElementChild.cloneNode(true);
          $("#" + kind + "-lines").appendChild(line);
          line.querySelector("input").focus();
        });
      });
      outcomeForm.addEventListener("click", function (e) {
        if (e.target.matches("[data-remove]")) { e.target.closest(".line").remove(); }
      });
      outcomeForm.addEventListener("submit", function (e) {
        e.preventDefault();
        if (!outcomeForm.reportValidity()) { return; }
        function lines(box, build) {
          return Array.prototype.map.call($(box).querySelectorAll(".line"), function (line) {
            var v = {};
            line.querySelectorAll("input").forEach(function (el) { v[el.name] = el.value.trim(); });
            return build(v);
          });
        }
        var f = outcomeForm.elements;
        var body = {
          assessment: f.assessment.value.trim(),
          recommendation: f.recommendation.value.trim(),
          disposition: f.disposition.value,
          prescription: lines("#rx-lines", function (v) {
            var rx = { medicine: v.medicine, dose: v.dose, route: v.route || "oral",
                       frequency: v.frequency, duration_days: Number(v.duration_days) };
            if (v.notes) { rx.notes = v.notes; }
            return rx;
          }),
          follow_up_tasks: lines("#task-lines", function (v) {
            var task = { description: v.description };
            if (v.due_on) { task.due_on = v.due_on; }
            return task;
          })
        };
        submitJson(outcomeForm, "/consults/" + id + "/outcome", body, T.outcome_saved,
          function () { outcomeForm.reset(); location.reload(); });
      });
    }
  }

  /* The form's status and error boxes; the API's answer said in them. */
  function formBoxes(form) {
    return { status: form.querySelector('[data-role="status"]'),
             error: form.querySelector('[data-role="error"]'),
             button: form.querySelector('button[type="submit"]') };
  }
  function sendForm(form, method, path, body, okText, after) {
    var p = formBoxes(form);
    p.button.disabled = true;
    say(p.error, "");
    say(p.status, "");
    api(method, path, body).then(function (r) {
      p.button.disabled = false;
      if (r.ok) { say(p.status, okText); after(r.data); return; }
      say(p.error, fill(T.failed, { error: errorText(r.data, r.status) }));
    }, function () { p.button.disabled = false; say(p.error, T.network); });
  }

  /* A consultant's own status: PUT /specialists/me/availability. */
  function oncallPage() {
    var form = $("#availability-form");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!form.reportValidity()) { return; }
      var f = form.elements;
      var chosen = form.querySelector('input[name="state"]:checked');
      var body = { max_concurrent: Number(f.max_concurrent.value) };
      if (chosen) { body.state = chosen.value; }
      if (f.pause_minutes.value !== "") { body.pause_minutes = Number(f.pause_minutes.value); }
      sendForm(form, "PUT", "/specialists/me/availability", body, T.availability_saved,
        function () { location.reload(); });
    });
  }

  /* The roster: publish a shift (local times sent as UTC instants), remove one. */
  function rostersPage() {
    var form = $("#shift-form");
    if (form && form.elements.starts_at) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        if (!form.reportValidity()) { return; }
        var f = form.elements;
        var body = {
          specialist: f.specialist.value, specialty: f.specialty.value, facility: f.facility.value,
          starts_at: new Date(f.starts_at.value).toISOString(),
          ends_at: new Date(f.ends_at.value).toISOString()
        };
        sendForm(form, "POST", "/roster/shifts", body, T.shift_added,
          function () { location.reload(); });
      });
    }
    app.addEventListener("click", function (e) {
      var button = e.target.closest("[data-remove-shift]");
      if (!button || !window.confirm(T.confirm_remove_shift)) { return; }
      var errorBox = $("#action-error");
      button.disabled = true;
      say(errorBox, "");
      api("DELETE", "/roster/shifts/" + button.dataset.removeShift).then(function (r) {
        if (r.ok) { say($("#live-state"), T.shift_removed); button.closest("tr").remove(); return; }
        button.disabled = false;
        say(errorBox, fill(T.failed, { error: errorText(r.data, r.status) }));
      }, function () { button.disabled = false; say(errorBox, T.network); });
    });
  }

  localTimes(document);
  if (page === "oncall") { oncallPage(); }
  if (page === "rosters") { rostersPage(); }
  if (page === "new") { newPage(); }
  if (page === "list") { listPage(false); }
  if (page === "worklist") {
    var reloadRows = listPage(true);
    offers(function (what, id) {
      if (what === "claimed") { location.assign("/consults/" + id); } else { reloadRows(); }
    });
  }
  if (page === "consult") { consultPage(); }
}());

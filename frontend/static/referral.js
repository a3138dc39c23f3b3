/* Referral pages: the refer form (destinations from the directory, the live referral shown
   before sending), booking a slot, and the page's actions (accept, decline, back-referral,
   acknowledgement, check-in...). Changes go through the JSON API with the page's CSRF token. */
(function () {
  "use strict";
  var textEl = document.getElementById("referral-text");
  if (!textEl) { return; }
  var T = JSON.parse(textEl.textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var API = "/api/v1";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) {
      return values[key] === undefined ? all : String(values[key]);
    });
  }
  function localTimes(root) {
    if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(root || document); }
  }
  function errorText(data, status) {
    var err = data && data.error;
    if (!err) { return "HTTP " + status; }
    if (err.code === "consent_required") { return T.consent_required; }
    var text = err.message || err.code;
    if (Array.isArray(err.details)) {
      text += " " + err.details.map(function (d) {
        return (d.field ? d.field + ": " : "") + (d.problem || "");
      }).join("; ");
    }
    return text;
  }
  function api(method, path, body) {
    var h = { "Accept": "application/json", "X-CSRFToken": CSRF };
    if (body !== undefined) { h["Content-Type"] = "application/json"; }
    return fetch(API + path, {
      method: method, headers: h, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (resp) {
      return resp.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        return { ok: resp.ok, status: resp.status, data: data };
      });
    }, function () { return { ok: false, status: 0, data: null }; });
  }
  function alertOf(el) {
    var box = el.closest("section") || el.closest("#referral-app") || document;
    return $(".error[role=alert]", box) || $(".error[role=alert]");
  }
  function fail(el, res) {
    var target = alertOf(el);
    if (target) { target.textContent = res.status === 0 ? T.network : errorText(res.data, res.status); }
  }
  function referralUrl(id) { return T.referral_url.replace(/0$/, String(id)); }
  function appointmentUrl(id) { return T.appointment_url.replace(/0$/, String(id)); }
  function timeEl(iso) {
    var t = document.createElement("time");
    t.setAttribute("datetime", iso);
    t.textContent = iso.replace("T", " ").slice(0, 16) + " UTC";
    return t;
  }

  /* Buttons that post to the API and reload the page on success. */
  $$("[data-post]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var body = btn.dataset.reason ? { reason: btn.dataset.reason } : undefined;
      btn.disabled = true;
      api("POST", btn.dataset.post, body).then(function (res) {
        if (res.ok) { window.location.reload(); return; }
        btn.disabled = false;
        fail(btn, res);
      });
    });
  });

  /* Buttons that post to the API and go to the page it names (a visit's video session). */
  $$("[data-go]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      btn.disabled = true;
      api("POST", btn.dataset.go).then(function (res) {
        if (res.ok && res.data && res.data.join_url) { window.location.href = res.data.join_url; return; }
        btn.disabled = false;
        fail(btn, res);
      });
    });
  });

  /* Forms whose fields become the JSON body (tasks rows become a list). */
  function formBody(form) {
    var body = {};
    $$("input[name], textarea[name], select[name]", form).forEach(function (el) {
      if (el.dataset.task !== undefined) { return; }
      var value = el.value.trim();
      if (value !== "") { body[el.name] = value; }
    });
    var rows = $$(".task-row", form);
    if (rows.length || $(".task-rows", form)) {
      body.tasks = rows.map(function (row) {
        var due = $("input[type=date]", row).value;
        return { text: $("input[type=text]", row).value.trim(), due: due || null };
      }).filter(function (t) { return t.text !== ""; });
    }
    return body;
  }
  $$("form.api-form").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = $("button[type=submit]", form);
      button.disabled = true;
      api("POST", form.dataset.path, formBody(form)).then(function (res) {
        if (res.ok) { window.location.reload(); return; }
        button.disabled = false;
        fail(form, res);
      });
    });
  });

  /* Follow-up task rows of the back-referral form. */
  var addTask = $("#add-task");
  var taskCount = 0;
  function addTaskRow() {
    taskCount += 1;
    var row = document.createElement("div");
    row.className = "task-row";
    var textId = "task-text-" + taskCount, dueId = "task-due-" + taskCount;
    var l1 = document.createElement("label"); l1.htmlFor = textId; l1.textContent = T.task + " " + taskCount;
    var text = document.createElement("input"); text.type = "text"; text.id = textId; text.maxLength = 2000;
    text.dataset.task = ""; text.setAttribute("dir", "auto");
    var l2 = document.createElement("label"); l2.htmlFor = dueId; l2.textContent = T.due;
    var due = document.createElement("input"); due.type = "date"; due.id = dueId; due.dataset.task = "";
    var remove = document.createElement("button"); remove.type = "button"; remove.className = "secondary";
    remove.textContent = T.remove;
    remove.addEventListener("click", function () { row.remove(); });
    [l1, text, l2, due, remove].forEach(function (el) { row.appendChild(el); });
    $(".task-rows").appendChild(row);
  }
  if (addTask) { addTask.addEventListener("click", addTaskRow); addTaskRow(); }

  /* The slot picker: free slots of the referral's clinics for the next two weeks. */
  var picker = $("#slot-picker");
  var app = $("#referral-app");
  function slotButton(slot) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "slot";
    b.dataset.slot = slot.id;
    b.dataset.mode = slot.mode;
    b.appendChild(timeEl(slot.starts_at));
    b.appendChild(document.createTextNode(" · " + (slot.mode === "virtual" ? T.mode_virtual : T.mode_in_person)));
    b.addEventListener("click", function () { book(slot.id, b); });
    return b;
  }
  function showSlots(slots) {
    picker.textContent = "";
    if (!slots.length) { picker.textContent = T.no_slots; return; }
    var list = document.createElement("div");
    list.className = "slots";
    slots.forEach(function (s) { list.appendChild(slotButton(s)); });
    picker.appendChild(list);
    localTimes(picker);
  }
  function book(slotId, btn) {
    btn.disabled = true;
    $("#book-error").textContent = "";
    var moving = picker.dataset.reschedule;
    var setting = $("#visit-setting");
    var request = moving
      ? api("POST", "/appointments/" + moving + "/reschedule", { slot_id: slotId })
      : api("POST", "/appointments", {
        referral_id: Number(app.dataset.referralId),
        patient_id: Number(app.dataset.patientId),
        slot_id: slotId,
        setting: setting ? setting.value : "outpatient"
      });
    request.then(function (res) {
      if (res.ok && moving) { window.location.assign(appointmentUrl(res.data.id)); return; }
      if (res.ok) { window.location.reload(); return; }
      btn.disabled = false;
      $("#book-error").textContent = res.status === 0 ? T.network : errorText(res.data, res.status);
      var next = res.data && res.data.error && res.data.error.details && res.data.error.details.next_free;
      if (res.status === 409 && next) {
        $("#book-error").textContent += " " + T.taken;
        showSlots(next);
      }
    });
  }
  function loadSlots() {
    var codes = (picker.dataset.clinics || "").split(",").filter(Boolean);
    var now = new Date();
    var to = new Date(now.getTime() + 14 * 86400000);
    var q = "?free=true&from=" + encodeURIComponent(now.toISOString()) + "&to=" + encodeURIComponent(to.toISOString());
    Promise.all(codes.map(function (c) { return api("GET", "/clinics/" + encodeURIComponent(c) + "/slots" + q); }))
      .then(function (results) {
        var slots = [];
        results.forEach(function (r) { if (r.ok) { slots = slots.concat(r.data.items); } });
        slots.sort(function (a, b) { return a.starts_at < b.starts_at ? -1 : 1; });
        showSlots(slots.slice(0, 40));
      });
  }
  if (picker) { loadSlots(); }

  /* The patient's booking link: made on request, its address shown once. */
  var makeLink = $("#make-link");
  if (makeLink) {
    makeLink.addEventListener("click", function () {
      var body = makeLink.dataset.referralId
        ? { referral_id: Number(makeLink.dataset.referralId) }
        : { patient_id: Number(makeLink.dataset.patientId), clinic: makeLink.dataset.clinic };
      makeLink.disabled = true;
      api("POST", "/booking-links", body).then(function (res) {
        makeLink.disabled = false;
        if (!res.ok) { fail(makeLink, res); return; }
        var box = $("#link-result");
        box.textContent = "";
        var p = document.createElement("p");
        p.textContent = T.link_made + " ";
        var a = document.createElement("a");
        a.id = "booking-link-url";
        a.href = res.data.url;
        a.dir = "ltr";
        a.textContent = window.location.origin + res.data.url;
        p.appendChild(a);
        box.appendChild(p);
      });
    });
  }

  /* The refer form. */
  var form = $("#referral-form");
  if (!form) { return; }
  var patient = $("#patient_id"), specialty = $("#specialty"), target = $("#to_facility");
  var liveBox = $("#live-referral");
  function option(value, label) {
    var o = document.createElement("option");
    o.value = value; o.textContent = label;
    return o;
  }
  function loadDirectory() {
    target.textContent = "";
    if (!specialty.value) { target.appendChild(option("", T.choose_facility)); return; }
    api("GET", "/facilities?limit=200&offers=" + encodeURIComponent(specialty.value)).then(function (res) {
      target.textContent = "";
      var items = res.ok ? res.data.items : [];
      target.appendChild(option("", items.length ? T.choose_facility : T.none_offer));
      items.forEach(function (f) {
        var label = f.name + " · " + fill(T.level, { level: f.level }) + (f.virtual_clinic ? " · " + T.virtual : "");
        target.appendChild(option(f.code, label));
      });
    });
  }
  function checkLive() {
    liveBox.hidden = true;
    liveBox.textContent = "";
    if (!patient.value || !specialty.value) { return; }
    api("GET", "/referrals?live=true&limit=5&patient_id=" + encodeURIComponent(patient.value) +
        "&specialty=" + encodeURIComponent(specialty.value)).then(function (res) {
      if (!res.ok || !res.data.items.length) { return; }
      var r = res.data.items[0];
      liveBox.appendChild(document.createTextNode(T.live_exists + " "));
      var a = document.createElement("a");
      a.href = referralUrl(r.id);
      a.id = "live-referral-link";
      a.textContent = fill(T.open_it, { id: r.id });
      liveBox.appendChild(a);
      liveBox.appendChild(document.createTextNode(" · " + r.to_facility_name));
      liveBox.hidden = false;
    });
  }
  specialty.addEventListener("change", function () { loadDirectory(); checkLive(); });
  patient.addEventListener("change", checkLive);
  if (specialty.value) { loadDirectory(); checkLive(); }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = {
      patient_id: Number(patient.value),
      specialty: specialty.value,
      to_facility: target.value,
      reason: $("#reason").value.trim()
    };
    if (form.dataset.consultId) { body.consult_id = Number(form.dataset.consultId); }
    var button = $("#refer-submit");
    button.disabled = true;
    $("#refer-error").textContent = T.sending;
    api("POST", "/referrals", body).then(function (res) {
      if (res.ok) { window.location.assign(referralUrl(res.data.id)); return; }
      button.disabled = false;
      $("#refer-error").textContent = res.status === 0 ? T.network : errorText(res.data, res.status);
      if (res.status === 409) { checkLive(); }
    });
  });
}());

/* A study's page: create a link to its images (shown once, with a copy button and its expiry),
   revoke a link. Changes go through the JSON API with the page's CSRF token. */
(function () {
  "use strict";
  var section = document.getElementById("links");
  if (!section) { return; }
  var T = JSON.parse(document.getElementById("study-text").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var status = document.getElementById("links-status");
  var table = document.getElementById("links-table");
  var none = document.getElementById("links-none");

  function say(text) { status.textContent = text || ""; }
  function failed(resp, data) {
    var err = data && data.error;
    say(T.error.replace("{reason}", (err && (err.message || err.code)) || "HTTP " + resp.status));
  }
  function post(url) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: "{}",
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": CSRF }
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        return { resp: resp, data: data };
      });
    });
  }
  function time(iso) {
    var el = document.createElement("time");
    el.setAttribute("datetime", iso);
    el.textContent = iso;
    return el;
  }
  function cell(row, child) {
    var td = document.createElement("td");
    if (typeof child === "string") { td.textContent = child; } else { td.append(child); }
    row.append(td);
    return td;
  }
  function revokeButton(id) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "danger";
    button.dataset.revoke = String(id);
    button.textContent = T.revoke;
    return button;
  }

  var form = document.getElementById("create-link");
  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      post(section.dataset.createUrl).then(function (r) {
        button.disabled = false;
        if (r.resp.status !== 201) { failed(r.resp, r.data); return; }
        var box = document.getElementById("new-link");
        var url = document.getElementById("new-link-url");
        var expires = document.getElementById("new-link-expires");
        url.value = r.data.url;
        url.dataset.id = String(r.data.id);
        expires.setAttribute("datetime", r.data.expires_at);
        expires.removeAttribute("data-formatted");
        expires.textContent = r.data.expires_at;
        box.hidden = false;
        var row = document.createElement("tr");
        row.dataset.link = String(r.data.id);
        cell(row, time(new Date().toISOString()));
        cell(row, time(r.data.expires_at));
        var opens = document.createElement("bdi");
        opens.textContent = "0";
        cell(row, opens);
        cell(row, T.live).dataset.role = "state";
        cell(row, revokeButton(r.data.id));
        table.tBodies[0].append(row);
        table.hidden = false;
        none.hidden = true;
        if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(section); }
        say(T.created);
        url.focus();
        url.select();
      }, function () { button.disabled = false; say(T.network); });
    });
  }

  var copy = document.getElementById("copy-link");
  if (copy) {
    copy.addEventListener("click", function () {
      var url = document.getElementById("new-link-url");
      function fallback() {
        url.select();
        try { say(document.execCommand("copy") ? T.copied : T.copy_failed); } catch (e) { say(T.copy_failed); }
      }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(url.value).then(function () { say(T.copied); }, fallback);
      } else { fallback(); }
    });
  }

  section.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-revoke]");
    if (!button) { return; }
    var id = button.dataset.revoke;
    button.disabled = true;
    post(section.dataset.revokeUrl.replace("ID", id)).then(function (r) {
      var done = r.resp.status === 200 || (r.resp.status === 409 && r.data && r.data.error &&
        r.data.error.code === "already_revoked");
      if (!done) { button.disabled = false; failed(r.resp, r.data); return; }
      var row = button.closest("tr");
      row.querySelector('[data-role="state"]').textContent = T.revoked;
      button.remove();
      var box = document.getElementById("new-link");
      if (box && !box.hidden && String(document.getElementById("new-link-url").dataset.id) === id) { box.hidden = true; }
      say(T.revoked_done);
    }, function () { button.disabled = false; say(T.network); });
  });
}());

// The consult page's earlier studies: ask the central archive (C-FIND through the hub), then
// fetch a chosen study into the hub (C-GET) and link to it.
(function () {
  "use strict";
  const box = document.getElementById("priors");
  if (!box) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const status = box.querySelector('[data-role="status"]');
  const table = box.querySelector("table");
  const rows = table.querySelector("tbody");
  const text = box.dataset;

  function cell(row, value, ltr) {
    const td = document.createElement("td");
    td.textContent = value || "—";
    td.dir = ltr ? "ltr" : "auto";
    row.appendChild(td);
    return td;
  }

  function studyLink(td, uid) {
    td.textContent = "";
    const a = document.createElement("a");
    a.href = text.studyUrl.replace("UID", encodeURIComponent(uid));
    a.textContent = text.textHeld;
    td.appendChild(a);
  }

  // The hub's JSON answer, or an Error worded for the reader: the hub's error messages are in
  // English, so an unreachable archive (or hub) is told in the page's own translated words.
  async function call(url, options) {
    let resp;
    try {
      resp = await fetch(url, options);
    } catch (err) {
      throw new Error(text.textError);
    }
    const answer = await resp.json().catch(function () { return {}; });
    if (!resp.ok) {
      if (resp.status >= 500) throw new Error(text.textError);
      // 404: the archive no longer files the study under this patient (or it vanished).
      throw new Error(resp.status === 404 ? text.textGone : text.textRefused);
    }
    return answer;
  }

  async function fetchStudy(uid, td, button) {
    button.disabled = true;
    button.textContent = text.textFetching;
    const body = { study_instance_uid: uid, patient_national_id: text.nationalId };
    if (text.idCountry) body.id_country = text.idCountry;
    try {
      await call(text.retrieveUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token },
        body: JSON.stringify(body),
      });
      studyLink(td, uid);
      status.textContent = "";  // an earlier failure is no longer true
    } catch (err) {
      button.disabled = false;
      button.textContent = text.textFetch;
      status.textContent = err.message;
    }
  }

  box.querySelector('[data-role="ask"]').addEventListener("click", async function (ev) {
    ev.target.disabled = true;
    status.textContent = text.textFetching;
    try {
      const answer = await call(text.listUrl, { headers: { Accept: "application/json" } });
      rows.textContent = "";
      for (const prior of answer.items) {
        const row = document.createElement("tr");
        cell(row, prior.study_date, true);
        cell(row, prior.modalities.join(", "), true);
        cell(row, prior.description, false);
        const action = cell(row, "", true);
        if (prior.held_by_hub) {
          studyLink(action, prior.study_instance_uid);
        } else {
          action.textContent = "";
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = text.textFetch;
          button.addEventListener("click", function () {
            fetchStudy(prior.study_instance_uid, action, button);
          });
          action.appendChild(button);
        }
        rows.appendChild(row);
      }
      table.hidden = answer.items.length === 0;
      status.textContent = answer.items.length ? "" : text.textNone;
    } catch (err) {
      status.textContent = err.message;
    } finally {
      ev.target.disabled = false;
    }
  });
})();

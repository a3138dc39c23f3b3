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

  function errorOf(body, fallback) {
    return (body && body.error && body.error.message) || fallback;
  }

  async function fetchStudy(uid, td, button) {
    button.disabled = true;
    button.textContent = text.textFetching;
    const body = { study_instance_uid: uid, patient_national_id: text.nationalId };
    if (text.idCountry) body.id_country = text.idCountry;
    try {
      const resp = await fetch(text.retrieveUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token },
        body: JSON.stringify(body),
      });
      const answer = await resp.json().catch(function () { return {}; });
      if (!resp.ok) throw new Error(errorOf(answer, text.textError));
      studyLink(td, uid);
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
      const resp = await fetch(text.listUrl, { headers: { Accept: "application/json" } });
      const answer = await resp.json().catch(function () { return {}; });
      if (!resp.ok) throw new Error(errorOf(answer, text.textError));
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

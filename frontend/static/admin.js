// Administration pages: copy a secret shown once, and show only the scope fields the chosen
// role (or client kind) needs. The forms work without this script; it only saves steps.
"use strict";

(function () {
  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.dataset.copy);
        var said = document.querySelector('[data-copied-for="' + button.dataset.copy + '"]');
        if (!field) return;
        field.select();
        var done = function () { if (said) said.textContent = button.dataset.copied || "✓"; };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(field.value).then(done, function () {
            document.execCommand("copy");
            done();
          });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  function roleScopes() {
    var form = document.getElementById("user-form");
    var data = document.getElementById("admin-roles");
    if (!form || !data) return;
    var scopes = JSON.parse(data.textContent);
    var role = form.querySelector("#role");
    function show() {
      form.querySelectorAll("[data-scope]").forEach(function (part) {
        var roles = scopes[part.dataset.scope] || [];
        part.hidden = role.value !== "" && roles.indexOf(role.value) < 0;
      });
    }
    role.addEventListener("change", show);
    show();
  }

  function clientKinds() {
    var form = document.getElementById("client-form");
    if (!form) return;
    function show() {
      var chosen = form.querySelector('input[name="kind"]:checked');
      form.querySelectorAll("[data-kind]").forEach(function (part) {
        part.hidden = !chosen || part.dataset.kind !== chosen.value;
      });
    }
    form.querySelectorAll('input[name="kind"]').forEach(function (radio) {
      radio.addEventListener("change", show);
    });
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    copyButtons();
    roleScopes();
    clientKinds();
  });
})();

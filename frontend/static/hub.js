/* Every page: leave no clinical drafts behind on logout (drafts in this browser may hold
   clinical text). Loaded as a file: the content security policy allows no inline script. */
(function () {
  "use strict";
  var form = document.getElementById("logout-form");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    try {
      Object.keys(localStorage).forEach(function (k) {
        if (k.indexOf("hub.") === 0) { localStorage.removeItem(k); }
      });
    } catch (e) { /* storage unavailable */ }
  });
}());

/* The API documentation page: Swagger UI (vendored, frontend/static/vendor/swagger-ui) over the
   hub's own OpenAPI documents, the JSON API's or DICOMweb's (chosen on the page). "Try it out"
   uses the reader's session: writes carry the page's CSRF token, as every page's script does. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    // Deep links put an anchor inside each operation's toggle button (nested controls, which
    // screen readers cannot reach).
    deepLinking: false,
    tryItOutEnabled: false,
    // Folded tags: with every operation unfolded, Swagger UI stops rendering after a few.
    docExpansion: "none",
    persistAuthorization: false,
    validatorUrl: null,  // never ask an outside validator about the document
    onComplete: function () {
      // Swagger UI leaves its server picker unnamed.
      var servers = document.getElementById("servers");
      if (servers && !servers.getAttribute("aria-label")) {
        servers.setAttribute("aria-label", root.dataset.serversLabel || "Servers");
      }
    },
    requestInterceptor: function (request) {
      if (csrf && request.method && request.method.toUpperCase() !== "GET") {
        request.headers["X-CSRFToken"] = csrf.getAttribute("content");
      }
      request.credentials = "same-origin";
      return request;
    }
  });
  var chooser = document.getElementById("api-document");
  if (chooser) {
    chooser.addEventListener("change", function () {
      ui.specActions.updateUrl(chooser.value);
      ui.specActions.download(chooser.value);
    });
  }
}());

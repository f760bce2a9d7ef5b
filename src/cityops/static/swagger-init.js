// Starts Swagger UI from a file, so the page needs no inline script (CSP: script-src 'self').
window.addEventListener("load", function () {
  if (typeof SwaggerUIBundle === "undefined") return;
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    persistAuthorization: true,
  });
});

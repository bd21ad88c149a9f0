// Starts the bundled Swagger UI on the gateway's own OpenAPI document. A file rather than an inline script so the
// page's Content-Security-Policy can stay script-src 'self'.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});

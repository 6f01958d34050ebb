// The first sign-in sheets: a print button (no inline script under the CSP).
document.getElementById("print")?.addEventListener("click", () => window.print());

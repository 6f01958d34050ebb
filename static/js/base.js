// Every page: behaviour that used to be inline (the Content-Security-Policy
// allows no inline script). A <select data-submit-on-change> submits its
// form when changed (the language switch).
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-submit-on-change]");
  if (select && select.form) select.form.submit();
});

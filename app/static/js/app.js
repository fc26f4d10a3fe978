// Tiny progressive enhancements; everything works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  // Selects marked data-autosubmit submit their form on change (the submit button is hidden with JS on).
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) { el.form.requestSubmit(); }
  });
  // After an htmx swap that shows errors, move focus to the first invalid field.
  document.addEventListener("htmx:afterSwap", function (e) {
    var bad = e.detail.target && e.detail.target.querySelector && e.detail.target.querySelector("[aria-invalid=true]");
    if (bad) { bad.focus(); }
  });
})();

// Tiny progressive enhancements; everything works without this file.
(function () {
  "use strict";
  var d = document, advance = null;
  d.documentElement.classList.add("js");
  // On phones the section bar scrolls sideways: keep the current section in view.
  d.addEventListener("DOMContentLoaded", function () {
    var here = d.querySelector(".nav [aria-current=page]");
    if (here && here.scrollIntoView) { here.scrollIntoView({block: "nearest", inline: "center"}); }
  });
  // Selects marked data-autosubmit submit their form on change (the submit button is hidden with JS on).
  d.addEventListener("change", function (e) {
    var el = e.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) { el.form.requestSubmit(); }
  });
  // Readings grid: Enter saves the cell (htmx) and then moves to the same column of the next row.
  d.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.target.hasAttribute && e.target.hasAttribute("data-grid-input")) {
      advance = e.target.id;
    }
  });
  // After a swap (outerHTML replaces the target: look it up again by id), focus the first invalid field.
  d.addEventListener("htmx:afterSwap", function (e) {
    var t = e.detail.target && e.detail.target.id && d.getElementById(e.detail.target.id);
    var bad = t && t.querySelector("[aria-invalid=true]");
    if (bad) { bad.focus(); advance = null; return; }
    if (advance && t && t.querySelector("#" + advance)) {
      var all = Array.prototype.slice.call(d.querySelectorAll("[data-grid-input]"));
      var next = all[all.indexOf(d.getElementById(advance)) + 1];
      advance = null;
      if (next) { next.focus(); next.select(); }
    }
  });
})();

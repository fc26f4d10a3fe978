// Receipt page: «Копировать» and «Оплатить» (share the QR). Without it values stay selectable.
(function () {
  "use strict";
  var d = document, n = navigator, file = null;
  var status = d.getElementById("copy-status");
  function say(btn, text) {
    if (status) { status.textContent = text; }
    btn.textContent = text;
    setTimeout(function () { btn.textContent = "Копировать"; }, 2500);
  }
  function select(el) {
    var range = d.createRange(), sel = window.getSelection();
    range.selectNodeContents(el);
    sel.removeAllRanges();
    sel.addRange(range);
  }
  d.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var el = d.getElementById(btn.getAttribute("data-copy"));
      var fallback = function () { select(el); say(btn, "Выделено: скопируйте"); };
      if (n.clipboard && n.clipboard.writeText) {
        n.clipboard.writeText(btn.getAttribute("data-copy-text")).then(function () { say(btn, "Скопировано"); },
          fallback);
      } else { fallback(); }
    });
  });
  var pay = d.getElementById("pay-share");
  if (!pay || !n.share) { return; }
  pay.hidden = false;
  // Fetched beforehand: share() needs the click's user activation
  fetch(pay.getAttribute("data-qr"), {credentials: "same-origin"}).then(function (r) {
    return r.ok ? r.blob() : null;
  }).then(function (blob) {
    if (blob && window.File) {
      var f = new File([blob], pay.getAttribute("data-file"), {type: "image/png"});
      if (n.canShare && n.canShare({files: [f]})) { file = f; }
    }
  }).catch(function () { file = null; });
  pay.addEventListener("click", function () {
    var data = {title: pay.getAttribute("data-title"), text: pay.getAttribute("data-text")};
    if (file) { data.files = [file]; }
    n.share(data).catch(function () {});  // the owner closed the sheet
  });
})();

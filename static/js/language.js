// The language picker in the top bar (templates/base.html): choosing a language with the mouse or
// a touch submits the form at once. With the keyboard, arrow keys only move through the list (a
// page must not reload under someone browsing the options); Enter or the "Go" button submits.
// Without JavaScript the "Go" button does it all.
(function () {
  "use strict";

  function enhance(form) {
    var select = form.querySelector("select");
    if (!select) return;
    var byKeyboard = false;
    select.addEventListener("keydown", function (event) {
      byKeyboard = true;
      if (event.key === "Enter") {
        event.preventDefault();
        form.submit();
      }
    });
    select.addEventListener("pointerdown", function () {
      byKeyboard = false;
    });
    select.addEventListener("change", function () {
      if (!byKeyboard) form.submit();
    });
  }

  function start() {
    document.querySelectorAll("form[data-language-form]").forEach(enhance);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

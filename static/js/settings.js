// The settings page's avatar form (templates/accounts/settings.html): checks the chosen file in the
// browser (PNG, JPEG or WebP, at most 1 MiB: the server checks the same) and shows a preview before
// upload. The preview is a data: URL (the page's CSP allows data: images, not blob:).
(function () {
  "use strict";

  var ALLOWED_TYPES = ["image/png", "image/jpeg", "image/webp"];
  var gettext = typeof window.gettext === "function" ? window.gettext : function (text) { return text; };

  function enhance(form) {
    var input = form.querySelector('input[type="file"]');
    var errorBox = form.querySelector("[data-avatar-error]");
    var preview = form.querySelector("[data-avatar-preview]");
    var previewImage = preview ? preview.querySelector("img") : null;
    var submit = form.querySelector('button[type="submit"]');
    if (!input || !errorBox) return;
    var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10) || 1048576;

    function showError(message) {
      errorBox.textContent = message;
      errorBox.hidden = !message;
      input.setAttribute("aria-invalid", message ? "true" : "false");
      if (submit) submit.disabled = Boolean(message);
      if (message && preview) preview.hidden = true;
    }

    function problemWith(file) {
      if (ALLOWED_TYPES.indexOf(file.type) === -1) return gettext("Choose a PNG, JPEG or WebP image.");
      if (file.size > maxBytes) return gettext("The image is larger than 1 MiB. Choose a smaller one.");
      return "";
    }

    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) {
        showError("");
        if (preview) preview.hidden = true;
        return;
      }
      var problem = problemWith(file);
      showError(problem);
      if (problem || !preview || !previewImage || !window.FileReader) return;
      var reader = new FileReader();
      reader.addEventListener("load", function () {
        previewImage.src = String(reader.result);
        preview.hidden = false;
      });
      reader.readAsDataURL(file);
    });

    form.addEventListener("submit", function (event) {
      var file = input.files && input.files[0];
      var problem = file ? problemWith(file) : gettext("Choose an image first.");
      if (problem) {
        event.preventDefault();
        showError(problem);
        input.focus();
      }
    });
  }

  function start() {
    document.querySelectorAll("form[data-avatar-form]").forEach(enhance);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

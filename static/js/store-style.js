// The store page's "Your look in chat" form (templates/store/store.html): which owned bubble and
// name colour the user's messages carry. Reads and saves them through the API
// (GET/PATCH /api/v1/store/style, {"bubble": sku|null, "name_color": sku|null}). The section stays
// hidden when the API cannot be read (the page's other parts do not need this script).
(function () {
  "use strict";

  var section = document.getElementById("chat-style");
  var form = document.getElementById("style-form");
  var status = document.getElementById("style-status");
  if (!section || !form || !window.fetch) return;
  var url = section.getAttribute("data-api");
  var t = typeof window.gettext === "function" ? window.gettext : function (text) { return text; };

  function skuOf(value) {
    if (value && typeof value === "object") return value.sku || "";
    return typeof value === "string" ? value : "";
  }

  function choose(name, sku) {
    var inputs = form.querySelectorAll('input[name="' + name + '"]');
    var found = false;
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].value === sku) {
        inputs[i].checked = true;
        found = true;
      }
    }
    if (!found && inputs.length) inputs[0].checked = true;
  }

  function show(style) {
    choose("bubble", skuOf(style.bubble));
    choose("name_color", skuOf(style.name_color));
  }

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error("no style");
      return response.json();
    })
    .then(function (style) {
      show(style);
      section.hidden = false;
    })
    .catch(function () {
      /* no style endpoint or no answer: the section stays hidden */
    });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var picked = function (name) {
      var input = form.querySelector('input[name="' + name + '"]:checked');
      return input && input.value ? input.value : null;
    };
    var token = form.querySelector('input[name="csrfmiddlewaretoken"]');
    var button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    say(t("Saving…"), false);
    fetch(url, {
      method: "PATCH",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": token ? token.value : "",
      },
      body: JSON.stringify({ bubble: picked("bubble"), name_color: picked("name_color") }),
    })
      .then(function (response) {
        return response.json().then(
          function (body) { return { ok: response.ok, body: body }; },
          function () { return { ok: response.ok, body: {} }; }
        );
      })
      .then(function (answer) {
        if (!answer.ok) throw new Error((answer.body && answer.body.detail) || t("Could not save your style."));
        show(answer.body);
        say(t("Saved. Your next messages carry this style."), false);
      })
      .catch(function (error) {
        say(error && error.message && error.message !== "Failed to fetch" ? error.message : t("Could not save your style."), true);
      })
      .then(function () {
        button.disabled = false;
      });
  });
})();

// A composer tool: a button (icon plus accessible name) in the composer's tool row that opens a
// small non-modal panel above the composer (role "dialog", named like the button). Escape or a
// click elsewhere closes it and focus returns to the button. Used by the sticker and gift pickers.
import { byId, el } from "../dom.js";
import { gettext } from "../i18n.js";

const panels = new Set();

// The row of tool buttons left of the text box (made once, shared by every tool).
function toolRow() {
  let row = byId("composer-tools");
  if (!row) {
    row = el("div", { id: "composer-tools", class: "composer-tools" });
    byId("composer").prepend(row);
  }
  return row;
}

export function closePanels(except = null) {
  for (const panel of panels) if (panel !== except) panel.close(false);
}

// {id, label, icon, render(body, close)}: returns {open, close, refresh, isOpen}.
export function composerPanel({ id, label, icon, render }) {
  const composer = byId("composer");
  const button = el(
    "button",
    {
      type: "button",
      class: "icon-button composer-tool",
      id: `${id}-button`,
      "aria-label": label,
      title: label,
      "aria-haspopup": "dialog",
      "aria-expanded": "false",
      "aria-controls": id,
    },
    el("span", { "aria-hidden": "true" }, icon),
  );
  const body = el("div", { class: "composer-panel-body" });
  const node = el(
    "div",
    { id, class: "composer-panel", role: "dialog", "aria-label": label, hidden: true },
    el(
      "div",
      { class: "composer-panel-head" },
      el("h2", {}, label),
      el("button", { type: "button", class: "icon-button", "aria-label": gettext("Close"), onclick: () => panel.close(true) }, "×"),
    ),
    body,
  );
  toolRow().append(button);
  composer.append(node);

  const panel = {
    isOpen: () => !node.hidden,
    refresh() {
      if (!node.hidden) render(body, (focusButton = true) => panel.close(focusButton));
    },
    open() {
      closePanels(panel);
      render(body, (focusButton = true) => panel.close(focusButton));
      node.hidden = false;
      button.setAttribute("aria-expanded", "true");
      const first = node.querySelector(".composer-panel-body button, .composer-panel-body a");
      (first || node.querySelector("button")).focus();
    },
    close(focusButton = true) {
      if (node.hidden) return;
      node.hidden = true;
      button.setAttribute("aria-expanded", "false");
      if (focusButton) button.focus();
    },
  };
  panels.add(panel);
  button.addEventListener("click", () => (panel.isOpen() ? panel.close(true) : panel.open()));
  node.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      panel.close(true);
    }
  });
  document.addEventListener("click", (event) => {
    // (the path, not contains(): a click may re-render the panel and detach its target)
    const path = event.composedPath();
    if (!node.hidden && !path.includes(node) && !path.includes(button)) panel.close(false);
  });
  return { panel, button };
}

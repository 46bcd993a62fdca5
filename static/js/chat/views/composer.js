// The composer: Enter sends, Shift+Enter makes a new line (and Enter while an input method is
// composing, e.g. pinyin, is left to the input method); a count near the limit; typing events.
import * as actions from "../actions.js";
import { byId } from "../dom.js";
import { gettext, interpolate } from "../i18n.js";
import * as store from "../store.js";

const { state } = store;
const COUNT_FROM = 0.875; // show the count from 3500 of 4000 characters on
const MAX_ROWS_PX = 160;

function length(text) {
  return Array.from(text).length; // characters as the server counts them (code points)
}

export function mountComposer() {
  const form = byId("composer");
  const input = byId("composer-input");
  const count = byId("composer-count");
  const send = byId("composer-send");
  const limit = state.bodyMax;

  const update = () => {
    const used = length(input.value);
    const over = used > limit;
    count.hidden = used < limit * COUNT_FROM;
    count.textContent = over
      ? interpolate(gettext("%(count)s characters too many"), { count: used - limit })
      : interpolate(gettext("%(count)s characters left"), { count: limit - used });
    count.classList.toggle("over", over);
    input.setAttribute("aria-invalid", over ? "true" : "false");
    send.disabled = over || !input.value.trim() || state.activeId === null;
    // A hidden pane (the list view on a phone) has no layout: its scrollHeight is 0. Leave the
    // height to CSS (one line) until the box is shown; typing or showing the pane sizes it.
    input.style.height = "auto";
    if (input.offsetParent !== null && input.scrollHeight > 0) {
      input.style.height = `${Math.min(input.scrollHeight, MAX_ROWS_PX)}px`;
    }
  };

  const submit = () => {
    const text = input.value;
    if (!text.trim() || length(text) > limit || state.activeId === null) return;
    actions.sendText(state.activeId, text);
    input.value = "";
    update();
    input.focus();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submit();
  });
  input.addEventListener("input", () => {
    update();
    if (input.value.trim() && state.activeId !== null) actions.typing(state.activeId);
  });
  // A draft per conversation, so switching does not lose what was being written.
  const drafts = new Map();
  let shownFor = null;
  store.on("conversation-shown", (conversationId) => {
    if (shownFor === conversationId) return;
    if (shownFor !== null) drafts.set(shownFor, input.value);
    shownFor = conversationId;
    input.value = drafts.get(conversationId) || "";
    update();
    if (window.matchMedia("(min-width: 700px)").matches) input.focus();
  });
  update();
}

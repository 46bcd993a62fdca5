// The conversation pane: header (title, members or presence), the message history with day
// separators, older pages on scrolling up (the view stays put), bubbles with edited/recalled/
// pending states, "Read" in direct chats, and the typing line.
import * as actions from "../actions.js";
import { byId, el, reconcile } from "../dom.js";
import { dayKey, formatDay, formatFull, formatTime } from "../format.js";
import { gettext, interpolate } from "../i18n.js";
import { shop } from "../shop.js";
import * as store from "../store.js";
import { avatar, avatarUrl, displayName, messageSummary, presenceLabel } from "./common.js";
import { confirmDialog, editDialog, membersDialog } from "./dialogs.js";
import { authorLine, decorateBubble } from "./flair.js";
import { giftCard } from "./gifts.js";
import { redPacketCard } from "./redpacket.js";
import { stickerBody } from "./stickers.js";

const { state } = store;
const RECALL_WINDOW_MS = 2 * 60 * 1000;
const cache = new Map(); // node key -> {signature, node}
let renderedConversation = null;

export function mountConversation() {
  const scroller = byId("message-scroller");
  store.on("active", renderActive);
  store.on("thread", (conversationId) => {
    if (conversationId === state.activeId) renderMessages();
  });
  store.on("members", (conversationId) => {
    if (conversationId === state.activeId) renderHeader();
  });
  store.on("presence", renderHeader);
  store.on("typing", (conversationId) => {
    if (conversationId === state.activeId) renderTyping();
  });
  store.on("notice", showNotice);
  scroller.addEventListener("scroll", () => {
    if (scroller.scrollTop < 120 && state.activeId !== null) actions.loadOlder(state.activeId);
    if (atBottom(scroller) && state.activeId !== null) actions.markRead(state.activeId);
  });
  byId("load-older").addEventListener("click", () => actions.loadOlder(state.activeId));
  byId("members-button").addEventListener("click", () => membersDialog(state.activeId));
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".msg-menu, .msg-menu-button")) closeMenus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      const open = document.querySelector(".msg-menu:not([hidden])");
      if (open) {
        closeMenus();
        const button = open.parentElement.querySelector(".msg-menu-button");
        if (button) button.focus();
      }
    }
  });
  renderActive();
}

function atBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
}

function renderActive() {
  const conversation = state.activeId === null ? null : state.conversations.get(state.activeId);
  byId("pane-empty").hidden = Boolean(conversation);
  byId("pane-body").hidden = !conversation;
  if (!conversation) {
    renderedConversation = null;
    return;
  }
  const switched = renderedConversation !== conversation.id;
  renderedConversation = conversation.id;
  if (switched) {
    cache.clear();
    byId("message-list").replaceChildren();
  }
  renderHeader();
  renderMessages({ toBottom: switched });
  renderTyping();
  store.emit("conversation-shown", conversation.id);
}

function renderHeader() {
  const conversation = state.activeId === null ? null : state.conversations.get(state.activeId);
  if (!conversation) return;
  byId("pane-title").textContent = conversation.title || gettext("Untitled");
  const subtitle = byId("pane-subtitle");
  const button = byId("members-button");
  if (conversation.kind === "direct") {
    const presence = conversation.peer ? store.presenceOf(conversation.peer) : "offline";
    subtitle.replaceChildren(el("span", { class: `presence-dot inline ${presence}`, "aria-hidden": "true" }), " ", presenceLabel(presence));
    button.hidden = true;
  } else {
    button.hidden = false;
    const members = state.members.get(conversation.id) || [];
    const names = members.slice(0, 5).map((member) => member.user.display_name).join(", ");
    const count = conversation.members_count || members.length;
    subtitle.textContent = names
      ? interpolate(gettext("%(count)s members: %(names)s"), { count, names: names + (members.length > 5 ? "…" : "") })
      : interpolate(gettext("%(count)s members"), { count });
  }
}

function renderTyping() {
  const line = byId("typing-line");
  const conversationId = state.activeId;
  if (conversationId === null) return;
  const numbers = store.typingIn(conversationId);
  if (!numbers.length) {
    line.textContent = "";
    return;
  }
  const names = numbers.map((number) => displayName(number));
  line.textContent = names.length === 1
    ? interpolate(gettext("%(name)s is typing…"), { name: names[0] })
    : interpolate(gettext("%(names)s are typing…"), { names: names.join(", ") });
}

// --- Messages ---------------------------------------------------------------------------------------

function closeMenus() {
  for (const menu of document.querySelectorAll(".msg-menu:not([hidden])")) {
    menu.hidden = true;
    const button = menu.parentElement.querySelector(".msg-menu-button");
    if (button) button.setAttribute("aria-expanded", "false");
  }
}

function canRecall(conversation, message) {
  if (message.recalled || !message.sender) return false;
  if (conversation.kind === "group" && ["owner", "admin"].includes(conversation.my_role)) return true;
  return message.sender.number === state.me.number && Date.now() - Date.parse(message.created_at) < RECALL_WINDOW_MS;
}

function menuFor(conversation, message) {
  const own = message.sender && message.sender.number === state.me.number;
  const manages = conversation.kind === "group" && ["owner", "admin"].includes(conversation.my_role);
  const mayEdit = own && message.kind === "text" && !message.recalled;
  if (message.recalled || !message.sender || !(own || manages)) return null;
  if (message.kind === "red_packet") return null; // neither edited nor recalled: money hangs on it
  const menuId = `menu-${message.id}`;
  const menu = el("div", { class: "msg-menu", id: menuId, role: "menu", "aria-label": gettext("Message actions"), hidden: true });
  menu.addEventListener("keydown", (event) => {
    const items = [...menu.querySelectorAll('[role="menuitem"]')];
    const at = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(at + step + items.length) % items.length].focus();
    } else if (event.key === "Tab") {
      closeMenus();
    }
  });
  const button = el(
    "button",
    {
      type: "button",
      class: "msg-menu-button icon-button",
      "aria-label": gettext("Message actions"),
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-controls": menuId,
      onclick: () => {
        const opening = menu.hidden;
        closeMenus();
        if (!opening) return;
        const current = store.thread(conversation.id).messages.get(message.id) || message;
        const items = [];
        if (mayEdit && !current.recalled) {
          items.push(el("button", { type: "button", role: "menuitem", onclick: () => { closeMenus(); editDialog(current); } }, gettext("Edit")));
        }
        if (canRecall(conversation, current)) {
          items.push(
            el(
              "button",
              {
                type: "button",
                role: "menuitem",
                class: "danger-text",
                onclick: async () => {
                  closeMenus();
                  const ok = await confirmDialog({ title: gettext("Recall this message?"), text: gettext("Everyone will see that a message was recalled."), confirmLabel: gettext("Recall"), danger: true });
                  if (!ok) return;
                  try {
                    await actions.recallMessage(current);
                  } catch (error) {
                    actions.notify(error.message);
                  }
                },
              },
              gettext("Recall"),
            ),
          );
        }
        if (!items.length) {
          items.push(el("button", { type: "button", role: "menuitem", disabled: true }, gettext("Recall is possible for 2 minutes after sending")));
        }
        menu.replaceChildren(...items);
        menu.hidden = false;
        button.setAttribute("aria-expanded", "true");
        items[0].focus();
      },
    },
    "⋯",
  );
  return [button, menu];
}

function bodyOf(message) {
  if (message.recalled) return el("p", { class: "msg-body recalled-text" }, gettext("Message recalled"));
  if (message.kind === "text") return el("p", { class: "msg-body" }, message.body);
  if (message.kind === "red_packet") return redPacketCard(message);
  if (message.kind === "gift") return giftCard(message);
  if (message.kind === "sticker") return stickerBody(message);
  return el("p", { class: "msg-body special" }, messageSummary(message));
}

function messageNode(conversation, message, { readMark }) {
  const own = message.sender && message.sender.number === state.me.number;
  const ids = { messageId: String(message.id), clientId: message.client_id || undefined };
  if (message.kind === "system" || !message.sender) {
    return el("li", { class: "msg system", dataset: ids }, el("p", {}, message.body));
  }
  const foot = el(
    "span",
    { class: "msg-foot" },
    message.edited_at && !message.recalled ? el("span", { class: "edited", title: formatFull(message.edited_at) }, gettext("(edited)")) : null,
    el("time", { datetime: message.created_at, title: formatFull(message.created_at) }, formatTime(message.created_at)),
  );
  const main = el(
    "div",
    { class: "msg-main" },
    own ? null : authorLine(message),
    decorateBubble(el("div", { class: "bubble" }, bodyOf(message), foot), message),
    readMark ? el("div", { class: "read-mark" }, gettext("Read")) : null,
  );
  return el(
    "li",
    { class: `msg ${own ? "own" : "other"}${message.recalled ? " recalled" : ""}`, dataset: ids },
    own ? null : avatar(message.sender.number),
    main,
    menuFor(conversation, message),
  );
}

function pendingNode(pending) {
  const failed = pending.status === "failed";
  const status = failed
    ? [
        el("span", { class: "not-sent" }, gettext("Not sent"), pending.detail ? ` — ${pending.detail}` : ""),
        " ",
        el("button", { type: "button", class: "link small retry", onclick: () => actions.retry(pending.client_id) }, gettext("Retry")),
      ]
    : [el("span", { class: "sending" }, gettext("Sending…"))];
  return el(
    "li",
    { class: `msg own pending${failed ? " failed" : ""}`, dataset: { clientId: pending.client_id } },
    el("div", { class: "msg-main" }, el("div", { class: `bubble${pending.kind === "sticker" ? " bubble-sticker" : ""}` }, pending.kind === "sticker" ? stickerBody(pending) : el("p", { class: "msg-body" }, pending.body), el("span", { class: "msg-foot" }, ...status))),
  );
}

function cached(key, signature, build) {
  const known = cache.get(key);
  if (known && known.signature === signature) return known.node;
  const node = build();
  cache.set(key, { signature, node });
  return node;
}

function renderMessages({ toBottom = false } = {}) {
  const conversation = state.activeId === null ? null : state.conversations.get(state.activeId);
  if (!conversation) return;
  const scroller = byId("message-scroller");
  const list = byId("message-list");
  const thread = store.thread(conversation.id);
  const messages = store.sortedMessages(conversation.id);

  // Keep what the reader looks at in place: at the bottom stay at the bottom, else keep the first
  // visible message where it is (older pages are inserted above it).
  const stick = toBottom || atBottom(scroller);
  let anchor = null;
  let anchorOffset = 0;
  if (!stick) {
    // Day separators move when older messages of their day arrive: anchor on messages only.
    for (const node of list.querySelectorAll(":scope > li.msg")) {
      if (node.offsetTop + node.offsetHeight > scroller.scrollTop) {
        anchor = node;
        anchorOffset = node.offsetTop - scroller.scrollTop;
        break;
      }
    }
  }

  const peerRead = conversation.kind === "direct" ? state.peerRead.get(conversation.id) || 0 : 0;
  let readMarkId = 0;
  if (peerRead) {
    for (const message of messages) {
      if (message.id <= peerRead && message.sender && message.sender.number === state.me.number) readMarkId = message.id;
    }
  }
  // A message redrawn while its actions menu is open (the peer read it, someone edited it) must
  // not close the menu under the reader's pointer: it is opened again on the new node below.
  const openMenu = list.querySelector(".msg-menu:not([hidden])");
  const focusedItem = openMenu ? [...openMenu.querySelectorAll('[role="menuitem"]')].indexOf(document.activeElement) : -1;
  const nodes = [];
  let lastDay = null;
  for (const message of messages) {
    const day = dayKey(message.created_at);
    if (day !== lastDay) {
      lastDay = day;
      nodes.push(cached(`day-${day}`, formatDay(message.created_at), () => el("li", { class: "day-separator", role: "separator" }, el("span", {}, formatDay(message.created_at)))));
    }
    const readMark = message.id === readMarkId;
    const picture = message.sender ? avatarUrl(message.sender.number) : "";
    const looks = message.kind === "sticker" || message.kind === "gift" ? shop.version : 0; // the catalog names them
    const signature = JSON.stringify([message.body, message.edited_at, message.recalled, readMark, conversation.my_role, picture, looks]);
    nodes.push(cached(`m-${message.id}`, signature, () => messageNode(conversation, message, { readMark })));
  }
  for (const pending of thread.pending) {
    nodes.push(cached(`p-${pending.client_id}`, JSON.stringify([pending.status, pending.detail]), () => pendingNode(pending)));
  }
  reconcile(list, nodes);
  if (openMenu && !openMenu.isConnected) {
    const menu = byId(openMenu.id);
    const button = menu && menu.parentElement.querySelector(".msg-menu-button");
    if (button) {
      button.click();
      const items = menu.querySelectorAll('[role="menuitem"]');
      if (focusedItem > 0 && focusedItem < items.length) items[focusedItem].focus();
    }
  }

  const empty = byId("thread-empty");
  empty.hidden = !thread.loaded || nodes.length > 0;
  byId("load-older").hidden = !thread.loaded || !thread.hasMoreBefore;
  byId("thread-loading").hidden = !thread.loading;

  if (stick) scroller.scrollTop = scroller.scrollHeight;
  else if (anchor && anchor.isConnected) scroller.scrollTop = anchor.offsetTop - anchorOffset;

  // A short history that does not fill the pane cannot be scrolled up: fetch more now.
  if (thread.loaded && thread.hasMoreBefore && !thread.loading && scroller.scrollHeight <= scroller.clientHeight) {
    actions.loadOlder(conversation.id);
  }
}

// --- Notices ----------------------------------------------------------------------------------------

let noticeTimer = null;

function showNotice({ text, kind }) {
  const notice = byId("notice");
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    notice.hidden = true;
  }, 6000);
}

// Gifts: the composer's "Gifts" picker (the gifts in the user's inventory with how many are left;
// a button "Send <gift>" sends one into the open conversation over HTTP) and the gift card in the
// message list ("<name> sent you <gift>", with the gift's picture).
import * as actions from "../actions.js";
import { ApiError, post } from "../api.js";
import { el } from "../dom.js";
import { gettext, interpolate } from "../i18n.js";
import { ensureCatalog, giftsHeld, itemOf, refreshCatalog, shop, useGift } from "../shop.js";
import * as store from "../store.js";
import { composerPanel } from "./panel.js";

const { state } = store;
let storeUrl = "/store/";
const sending = new Set(); // skus being sent: one at a time each

function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  return `g-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function giftName(message) {
  const data = message.data || {};
  const item = data.sku ? itemOf(data.sku) : null;
  const name = data.name || (item && item.name) || message.body || gettext("a gift");
  return data.quantity > 1 ? `${name} × ${data.quantity}` : name;
}

export function giftCard(message) {
  const data = message.data || {};
  const item = data.sku ? itemOf(data.sku) : null;
  const conversation = state.conversations.get(message.conversation);
  const own = message.sender && state.me && message.sender.number === state.me.number;
  const gift = giftName(message);
  // The message's own picture (server-made, this site's path), else the catalog's.
  const ownPicture = typeof data.image_url === "string" && /^\/(?!\/)/.test(data.image_url) ? data.image_url : "";
  const picture = ownPicture || (item && item.image_url) || "";
  let text;
  if (own) text = interpolate(gettext("You sent %(gift)s"), { gift });
  else if (conversation && conversation.kind === "group") text = interpolate(gettext("%(name)s sent %(gift)s"), { name: message.sender.display_name, gift });
  else text = interpolate(gettext("%(name)s sent you %(gift)s"), { name: message.sender ? message.sender.display_name : "", gift });
  return el(
    "div",
    { class: "gift-card" },
    picture
      ? el("img", { src: picture, alt: "", width: "64", height: "64" })
      : el("span", { class: "gift-emoji", "aria-hidden": "true" }, "🎁"),
    el("p", { class: "msg-body gift-text" }, text),
  );
}

async function sendGift(sku, button) {
  const conversationId = state.activeId;
  if (conversationId === null || sending.has(sku)) return false;
  sending.add(sku);
  button.disabled = true;
  try {
    const message = await post(`conversations/${conversationId}/gifts`, { sku, client_id: newClientId() });
    store.addMessage(message, { countUnread: false });
    useGift(sku);
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.code === "not_owned") {
      actions.notify(gettext("You have none of this gift left. Buy more in the store."));
    } else {
      actions.notify(error.message);
    }
    return false;
  } finally {
    sending.delete(sku);
    button.disabled = false;
    refreshCatalog().catch(() => {});
  }
}

function renderPicker(body, close) {
  if (!shop.loaded) {
    body.replaceChildren(el("p", { class: "muted" }, gettext("Loading…")));
    ensureCatalog()
      .then(() => renderPicker(body, close))
      .catch((error) => body.replaceChildren(el("p", { class: "error" }, error.message)));
    return;
  }
  const held = giftsHeld();
  if (!held.length) {
    body.replaceChildren(
      el("p", { class: "panel-empty" }, gettext("You have no gifts to send.")),
      el("p", {}, el("a", { href: storeUrl }, gettext("Buy gifts in the store"))),
    );
    return;
  }
  body.replaceChildren(
    el(
      "ul",
      { class: "gift-list" },
      held.map(({ item, quantity }) => {
        const button = el(
          "button",
          {
            type: "button",
            class: "gift-button",
            "aria-label": interpolate(gettext("Send %(gift)s (%(count)s left)"), { gift: item.name, count: quantity }),
          },
          item.image_url ? el("img", { src: item.image_url, alt: "", width: "40", height: "40" }) : null,
          el("span", { class: "gift-name" }, item.name),
          el("span", { class: "muted gift-count", "aria-hidden": "true" }, `× ${quantity}`),
        );
        button.addEventListener("click", async () => {
          if (await sendGift(item.sku, button)) close(false);
        });
        return el("li", {}, button);
      }),
    ),
  );
}

export function mountGifts({ store: url } = {}) {
  if (url) storeUrl = url;
  const { panel } = composerPanel({ id: "gift-panel", label: gettext("Gifts"), icon: "🎁", render: renderPicker });
  store.on("catalog", () => panel.refresh());
}

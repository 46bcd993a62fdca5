// The store as the chat page knows it: the catalog (`GET store/items`, with each sticker pack's
// stickers) and the user's inventory (`GET store/inventory`), loaded once and again after store
// events. Views look stickers and gifts up here; a change emits the store topic "catalog".
// Store events from the socket (`store.gift`, `store.vip_renewed`, `store.vip_lapsed`) become a
// short notice in the "Store notices" status region.
import { get } from "./api.js";
import { gettext, interpolate } from "./i18n.js";
import * as store from "./store.js";

export const shop = {
  loaded: false,
  version: 0, // bumped on every change: views key their caches on it
  items: new Map(), // sku -> item
  stickers: new Map(), // sticker id -> {id, name, image_url, sku}
  inventory: new Map(), // sku -> {sku, kind, quantity, expires_at}
};

let loading = null;

function setCatalog(items, inventory) {
  shop.items = new Map(items.map((item) => [item.sku, item]));
  shop.stickers = new Map();
  for (const item of items) {
    for (const sticker of item.stickers || []) shop.stickers.set(sticker.id, { ...sticker, sku: item.sku });
  }
  shop.inventory = new Map(inventory.map((line) => [line.sku, line]));
  shop.loaded = true;
  shop.version += 1;
  store.emit("catalog");
}

// Both lists at once; concurrent calls share one request.
export function refreshCatalog() {
  if (loading) return loading;
  loading = Promise.all([get("store/items"), get("store/inventory")])
    .then(([items, inventory]) => setCatalog(items, inventory))
    .finally(() => {
      loading = null;
    });
  return loading;
}

export function ensureCatalog() {
  return shop.loaded ? Promise.resolve() : refreshCatalog();
}

export function ownedStickerPacks() {
  return [...shop.items.values()].filter((item) => item.kind === "sticker_pack" && item.owned && (item.stickers || []).length);
}

// The gifts the user holds, with their catalog entries (a gift off sale shows by its sku).
export function giftsHeld() {
  const held = [];
  for (const line of shop.inventory.values()) {
    if (line.kind !== "gift" || line.quantity < 1) continue;
    const item = shop.items.get(line.sku) || { sku: line.sku, name: line.sku, image_url: "" };
    held.push({ item, quantity: line.quantity });
  }
  return held.sort((a, b) => a.item.name.localeCompare(b.item.name));
}

// `data.sticker` is the sticker's id (CONTRACT section 6); unknown ones give null.
export function stickerOf(message) {
  const data = message.data || {};
  return shop.stickers.get(data.sticker) || null;
}

export function itemOf(sku) {
  return shop.items.get(sku) || null;
}

// One gift fewer after sending one (the server's inventory says the same; refreshed later).
export function useGift(sku) {
  const line = shop.inventory.get(sku);
  if (!line) return;
  line.quantity = Math.max(0, line.quantity - 1);
  shop.version += 1;
  store.emit("catalog");
}

// --- Store events -------------------------------------------------------------------------------------

let region = null;

function noticeRegion() {
  if (region && region.isConnected) return region;
  region = document.createElement("div");
  region.className = "store-toasts";
  region.setAttribute("role", "status");
  region.setAttribute("aria-label", gettext("Store notices"));
  document.body.append(region);
  return region;
}

const TOAST_MS = 8000;

export function storeNotice(text) {
  const toast = document.createElement("p");
  toast.className = "store-toast";
  toast.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "icon-button";
  close.setAttribute("aria-label", gettext("Dismiss"));
  close.textContent = "×";
  close.addEventListener("click", () => toast.remove());
  toast.append(" ", close);
  noticeRegion().append(toast);
  setTimeout(() => toast.remove(), TOAST_MS);
}

function dateText(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: "medium" }).format(date);
}

// Socket frames of the store; returns true when the frame was one.
export function handleStoreFrame(frame) {
  switch (frame.type) {
    case "store.gift": {
      const from = (frame.from && frame.from.display_name) || gettext("A friend");
      const name = frame.quantity > 1 ? `${frame.name} × ${frame.quantity}` : frame.name;
      storeNotice(interpolate(gettext("%(name)s sent you %(gift)s."), { name: from, gift: name }));
      break;
    }
    case "store.vip_renewed":
      storeNotice(interpolate(gettext("Your VIP membership was renewed until %(date)s."), { date: dateText(frame.expires_at) }));
      break;
    case "store.vip_lapsed":
      storeNotice(gettext("Your VIP membership was not renewed: your wallet held too few coins. Top up and buy it again in the store."));
      break;
    default:
      return false;
  }
  refreshCatalog().catch(() => {});
  return true;
}

// Stickers: the composer's "Stickers" picker (the owned packs, a heading and a grid each; a sticker
// is a button named by the sticker's name and sends it like a text: pending, ack, Retry) and the
// sticker image in the message list (alt = the sticker's name, looked up in the catalog; an
// unknown sticker shows "[Sticker]").
import * as actions from "../actions.js";
import { el } from "../dom.js";
import { gettext } from "../i18n.js";
import { ensureCatalog, ownedStickerPacks, refreshCatalog, shop, stickerOf } from "../shop.js";
import * as store from "../store.js";
import { composerPanel } from "./panel.js";

const { state } = store;
let storeUrl = "/store/";

export function stickerBody(message) {
  const sticker = stickerOf(message);
  if (!sticker) return el("p", { class: "msg-body special" }, gettext("[Sticker]"));
  return el("img", { class: "sticker-image", src: sticker.image_url, alt: sticker.name, title: sticker.name, width: "120", height: "120" });
}

function renderPicker(body, close) {
  if (!shop.loaded) {
    body.replaceChildren(el("p", { class: "muted" }, gettext("Loading…")));
    ensureCatalog()
      .then(() => renderPicker(body, close))
      .catch((error) => body.replaceChildren(el("p", { class: "error" }, error.message)));
    return;
  }
  const packs = ownedStickerPacks();
  if (!packs.length) {
    body.replaceChildren(
      el("p", { class: "panel-empty" }, gettext("You have no sticker packs yet.")),
      el("p", {}, el("a", { href: storeUrl }, gettext("Get sticker packs in the store"))),
    );
    return;
  }
  body.replaceChildren(
    ...packs.map((pack) => {
      const headingId = `sticker-pack-${pack.sku}`;
      return el(
        "section",
        { class: "sticker-pack", "aria-labelledby": headingId },
        el("h3", { id: headingId }, pack.name),
        el(
          "ul",
          { class: "sticker-grid", "aria-labelledby": headingId },
          pack.stickers.map((sticker) =>
            el(
              "li",
              {},
              el(
                "button",
                {
                  type: "button",
                  class: "sticker-button",
                  title: sticker.name,
                  onclick: () => {
                    if (state.activeId === null) return;
                    actions.sendText(state.activeId, "", { kind: "sticker", data: { sku: pack.sku, sticker: sticker.id } });
                    close(false);
                    const input = document.getElementById("composer-input");
                    if (input) input.focus();
                  },
                },
                el("img", { src: sticker.image_url, alt: sticker.name, width: "56", height: "56", loading: "lazy" }),
              ),
            ),
          ),
        ),
      );
    }),
  );
}

export function mountStickers({ store: url } = {}) {
  if (url) storeUrl = url;
  const { panel } = composerPanel({ id: "sticker-panel", label: gettext("Stickers"), icon: "😀", render: renderPicker });
  store.on("catalog", () => {
    panel.refresh();
    // Stickers and gift cards already shown get their names and pictures.
    if (state.activeId !== null) store.emit("thread", state.activeId);
  });
}

// A socket error for a sticker send: say what it means here (the server's detail is generic).
export function clarifySendError(frame) {
  if (frame.type !== "error" || frame.code !== "not_owned") return frame;
  refreshCatalog().catch(() => {});
  return { ...frame, detail: gettext("You do not own this sticker pack. Get it in the store.") };
}

// Red packets in the conversation and the composer (CONTRACT section 6): the composer's "Red
// packet" button (its dialog: views/redpacket-dialogs.js), and the red card drawn for a
// `red_packet` message, which opens the packet's dialog. Cards are redrawn in place when their
// packet's details change (the store topic "red-packet", from ../redpackets.js), so the
// conversation view never rebuilds a message for it.
import { byId, el } from "../dom.js";
import { gettext, interpolate } from "../i18n.js";
import { coinsText, describe, loadPacket, refreshPackets } from "../redpackets.js";
import * as store from "../store.js";
import { openPacketDialog, openSendDialog, redrawBalanceHint, redrawPacketDialog } from "./redpacket-dialogs.js";

const { state } = store;
let counter = 0;

// The card's one line under the greeting.
function cardStatus(info) {
  if (info.missing) return gettext("No longer available");
  if (!info.known) return "";
  if (info.mine !== null) return interpolate(gettext("You got %(amount)s"), { amount: coinsText(info.mine) });
  if (info.claimable) return gettext("Open to claim");
  if (info.expired) return gettext("Expired");
  if (info.exhausted) return info.detail.count === 1 ? gettext("Claimed") : gettext("All taken");
  const { remaining_count: left, count } = info.detail;
  if (typeof left === "number" && typeof count === "number") {
    return interpolate(gettext("%(left)s of %(count)s left"), { left, count });
  }
  return "";
}

// --- Cards ----------------------------------------------------------------------------------------------

// The body of a `red_packet` message's bubble (called by the conversation view).
export function redPacketCard(message) {
  const id = message.data && Number(message.data.red_packet);
  counter += 1;
  const descriptionId = `rp-card-${counter}`;
  const greeting = el("span", { class: "rp-greeting" }, message.body || gettext("Best wishes"));
  const status = el("span", { class: "rp-status" });
  const card = el(
    "button",
    {
      type: "button",
      class: "rp-card",
      "aria-label": gettext("Open red packet"),
      "aria-describedby": descriptionId,
      dataset: { redPacket: id ? String(id) : undefined },
      onclick: () => {
        if (id) openPacketDialog(id, message);
      },
    },
    el(
      "span",
      { class: "rp-card-top" },
      el("span", { class: "rp-envelope", "aria-hidden": "true" }, "🧧"),
      el("span", { class: "rp-card-text", id: descriptionId }, greeting, " ", status),
    ),
    el("span", { class: "rp-card-label" }, gettext("Red packet")),
  );
  if (!id) {
    card.disabled = true;
    status.textContent = gettext("No longer available");
    return card;
  }
  drawCard(card, id);
  loadPacket(id);
  return card;
}

function drawCard(card, id) {
  const info = describe(id);
  card.querySelector(".rp-status").textContent = cardStatus(info);
  // Opened, all taken, expired or gone: the faded envelope, as in QQ and WeChat.
  card.classList.toggle("rp-done", info.missing || (info.known && !info.claimable && (info.mine !== null || info.expired || info.exhausted)));
}

function redrawCards(id) {
  for (const card of document.querySelectorAll(`.rp-card[data-red-packet="${id}"]`)) drawCard(card, id);
}

// --- Mounting -----------------------------------------------------------------------------------------------------

export function mountRedPackets() {
  // Beside the sticker and gift tools (views/panel.js makes the row; made here if it is not yet).
  let row = byId("composer-tools");
  if (!row) {
    row = el("div", { id: "composer-tools", class: "composer-tools" });
    byId("composer").prepend(row);
  }
  const button = el(
    "button",
    {
      type: "button",
      id: "composer-red-packet",
      class: "icon-button composer-tool rp-button",
      "aria-label": gettext("Red packet"),
      title: gettext("Red packet"),
      "aria-haspopup": "dialog",
      onclick: openSendDialog,
    },
    el("span", { "aria-hidden": "true" }, "🧧"),
  );
  row.append(button);

  store.on("balance", redrawBalanceHint);
  store.on("red-packet", (id) => {
    redrawCards(id);
    redrawPacketDialog(id);
  });
  // Back online after a gap: the packets on screen may have changed meanwhile.
  let wasOnline = true;
  store.on("connection", () => {
    const online = state.connection.state === "online";
    if (online && !wasOnline) {
      refreshPackets(new Set([...document.querySelectorAll(".rp-card[data-red-packet]")].map((card) => Number(card.dataset.redPacket))));
    }
    wasOnline = online;
  });
}

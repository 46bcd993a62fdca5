// The red-packet dialogs (CONTRACT section 6): "Red packet" to send one into the open conversation
// (field errors from the page and the server, by field), and "Red packet from <name>" that a card
// opens (claim, the result or why not, who got how much), redrawn live while open.
// Sending moves money: the POST carries an Idempotency-Key made once per submission and kept for a
// retry of the same form after a lost answer (network error, 5xx), so a double click or a retry
// sends one packet.
import { append, byId, el } from "../dom.js";
import { formatFull, formatTime } from "../format.js";
import { gettext, interpolate, ngettext } from "../i18n.js";
import { claimPacket, coinsText, describe, loadPacket, numberOf, sendPacket } from "../redpackets.js";
import * as store from "../store.js";
import { avatar, displayName } from "./common.js";

const { state } = store;
const TOTAL_MAX = 1000000; // settings.MAX_TRANSFER_COINS
const GREETING_MAX = 100; // redpackets.models.GREETING_MAX_LENGTH

let openDetail = null; // {id, render} of the packet dialog on screen
let counter = 0;

function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  return `rp-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// The packet's details changed: the dialog showing it, if open, is drawn again.
export function redrawPacketDialog(id) {
  if (openDetail && openDetail.id === id) openDetail.render();
}

// --- Dialog parts ---------------------------------------------------------------------------------------------

function openDialog({ title, label = null, kind, build }) {
  counter += 1;
  const headingId = `rp-dialog-title-${counter}`;
  const dialog = el("dialog", { class: `chat-dialog rp-dialog ${kind}`, "aria-labelledby": label ? null : headingId, "aria-label": label });
  const heading = el("h2", { id: headingId }, title);
  const body = el("div", { class: "dialog-body" });
  dialog.append(
    el(
      "div",
      { class: "dialog-head" },
      heading,
      el("button", { type: "button", class: "icon-button", "aria-label": gettext("Close"), onclick: () => dialog.close() }, "✕"),
    ),
    body,
  );
  dialog.addEventListener("close", () => dialog.remove());
  build({ dialog, body, heading, close: () => dialog.close() });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

// A labelled input with a hint and a field error under it (aria-describedby both).
function field({ id, label, input, hint = "" }) {
  const hintNode = el("small", { class: "rp-hint muted", id: `${id}-hint` }, hint);
  const error = el("small", { class: "rp-field-error", id: `${id}-error` });
  input.id = id;
  input.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
  const wrapper = el("div", { class: "rp-field" }, el("label", { htmlFor: id }, label), input, hintNode, error);
  return {
    wrapper,
    input,
    hint: hintNode,
    setError(text) {
      error.textContent = text || "";
      input.setAttribute("aria-invalid", text ? "true" : "false");
    },
  };
}

function balanceHint() {
  return typeof state.balance === "number"
    ? interpolate(gettext("Your balance: %(amount)s"), { amount: coinsText(state.balance) })
    : "";
}

// The send dialog's balance hint follows `coins.balance`.
export function redrawBalanceHint() {
  const hint = document.querySelector(".rp-send-dialog .rp-balance-hint");
  if (hint) hint.textContent = balanceHint();
}

// --- Sending --------------------------------------------------------------------------------------------------

export function openSendDialog() {
  const conversationId = state.activeId;
  const conversation = conversationId === null ? null : state.conversations.get(conversationId);
  if (!conversation) return;
  const direct = conversation.kind === "direct";
  const claimers = direct ? 1 : Math.max((conversation.members_count || 1) - 1, 0);

  openDialog({
    title: gettext("Red packet"),
    label: gettext("Red packet"),
    kind: "rp-send-dialog",
    build: ({ body, close }) => {
      const total = field({
        id: "rp-total",
        label: gettext("Total coins"),
        input: el("input", { type: "number", min: "1", max: String(TOTAL_MAX), step: "1", inputmode: "numeric", autocomplete: "off" }),
        hint: balanceHint(),
      });
      total.hint.classList.add("rp-balance-hint");
      const count = field({
        id: "rp-count",
        label: gettext("Number of shares"),
        input: el("input", { type: "number", min: "1", step: "1", inputmode: "numeric", autocomplete: "off" }),
        hint: claimers
          ? interpolate(ngettext("%(count)s person can claim here.", "Up to %(count)s people can claim here.", claimers), { count: claimers })
          : gettext("No one else is here yet."),
      });
      count.input.value = claimers ? String(claimers) : "1";
      const random = el("input", { type: "radio", name: "rp-mode", id: "rp-mode-random", value: "random", checked: true });
      const equal = el("input", { type: "radio", name: "rp-mode", id: "rp-mode-equal", value: "equal" });
      const modeError = el("small", { class: "rp-field-error", id: "rp-mode-error" });
      const mode = el(
        "fieldset",
        { class: "rp-mode", "aria-describedby": "rp-mode-error" },
        el("legend", {}, gettext("Amounts")),
        el("div", { class: "rp-choice" }, random, el("label", { htmlFor: "rp-mode-random" }, gettext("Random amounts"))),
        el("div", { class: "rp-choice" }, equal, el("label", { htmlFor: "rp-mode-equal" }, gettext("Equal amounts"))),
        modeError,
      );
      const greeting = field({
        id: "rp-greeting",
        label: gettext("Greeting"),
        input: el("input", { type: "text", maxlength: String(GREETING_MAX), placeholder: gettext("Best wishes"), autocomplete: "off" }),
      });
      const general = el("p", { class: "dialog-error rp-general-error", role: "alert" });
      const send = el("button", { type: "submit", class: "rp-send" }, gettext("Send red packet"));

      let attempt = null; // {key, body, settled}: the key is reused only for the same body, unanswered
      let sending = false;

      const clearErrors = () => {
        for (const one of [total, count, greeting]) one.setError("");
        modeError.textContent = "";
        general.textContent = "";
      };
      const showFieldErrors = (fields) => {
        const byName = { total, count, greeting };
        const rest = [];
        for (const [name, messages] of Object.entries(fields)) {
          const text = [].concat(messages).join(" ");
          if (byName[name]) byName[name].setError(text);
          else if (name === "mode") modeError.textContent = text;
          else rest.push(text);
        }
        if (rest.length) general.textContent = rest.join(" ");
        const first = [total, count, greeting].find((one) => one.input.getAttribute("aria-invalid") === "true" && one.input.isConnected);
        if (first) first.input.focus();
      };

      // Obvious mistakes are caught here; the server decides the rest (members, balance, limits).
      const check = () => {
        const fields = {};
        const totalText = total.input.value.trim();
        const countText = direct ? "1" : count.input.value.trim();
        const totalValue = /^\d+$/.test(totalText) ? Number(totalText) : NaN;
        const countValue = /^\d+$/.test(countText) ? Number(countText) : NaN;
        const modeValue = direct ? "equal" : equal.checked ? "equal" : "random";
        if (!(totalValue >= 1 && totalValue <= TOTAL_MAX)) {
          fields.total = interpolate(gettext("Enter a whole number of coins from 1 to %(max)s."), { max: TOTAL_MAX.toLocaleString() });
        }
        if (!(countValue >= 1)) fields.count = gettext("Enter a whole number of shares, at least 1.");
        if (!fields.total && !fields.count) {
          if (totalValue < countValue) fields.total = gettext("Every share needs at least 1 coin.");
          else if (modeValue === "equal" && totalValue % countValue) {
            fields.total = interpolate(gettext("For equal amounts the total must divide by %(count)s."), { count: countValue });
          }
        }
        if (Array.from(greeting.input.value.trim()).length > GREETING_MAX) {
          fields.greeting = interpolate(gettext("At most %(max)s characters."), { max: GREETING_MAX });
        }
        return { fields, body: { total: totalValue, count: countValue, mode: modeValue, greeting: greeting.input.value.trim() } };
      };

      const form = el("form", {
        class: "rp-send-form",
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          if (sending) return;
          clearErrors();
          const { fields, body: payload } = check();
          if (Object.keys(fields).length) {
            showFieldErrors(fields);
            return;
          }
          const text = JSON.stringify(payload);
          if (!attempt || attempt.settled || attempt.body !== text) attempt = { key: newKey(), body: text, settled: false };
          const current = attempt;
          sending = true;
          send.disabled = true;
          send.textContent = gettext("Sending…");
          try {
            await sendPacket(conversationId, payload, current.key);
            close();
            const input = byId("composer-input");
            if (input) input.focus();
          } catch (error) {
            // A 4xx is the server's final answer to this key; after a lost answer or a 5xx the
            // same form retries with the same key (and so cannot send twice).
            current.settled = error.status >= 400 && error.status < 500;
            if (error.code === "insufficient_funds") {
              total.setError(
                typeof state.balance === "number"
                  ? interpolate(gettext("Not enough coins: you have %(amount)s."), { amount: coinsText(state.balance) })
                  : gettext("Not enough coins."),
              );
              total.input.focus();
            } else if (error.code === "rate_limited") {
              general.textContent = gettext("Too many requests just now. Wait a moment and try again.");
            } else if (error.fields) {
              showFieldErrors(error.fields);
              if (!general.textContent && !Object.keys(error.fields).some((name) => ["total", "count", "greeting", "mode"].includes(name))) {
                general.textContent = error.message;
              }
            } else if (error.code === "not_found") {
              general.textContent = gettext("This conversation is no longer available.");
            } else {
              general.textContent = error.message;
            }
          } finally {
            sending = false;
            send.disabled = false;
            send.textContent = gettext("Send red packet");
          }
        },
      });
      append(form, [
        total.wrapper,
        direct ? null : count.wrapper,
        direct ? null : mode,
        greeting.wrapper,
        general,
        el("div", { class: "dialog-actions" }, el("button", { type: "button", class: "secondary", onclick: close }, gettext("Cancel")), send),
      ]);
      body.append(form);
      setTimeout(() => total.input.focus(), 0);
    },
  });
}

// --- Opening and claiming -------------------------------------------------------------------------------------

function resultText(info) {
  if (info.missing) return gettext("This red packet is no longer available.");
  if (!info.known) return gettext("Loading…");
  if (info.mine !== null) return interpolate(gettext("You got %(amount)s!"), { amount: coinsText(info.mine) });
  if (info.claimable) return "";
  if (info.isSender) {
    return info.group ? gettext("You sent this red packet; it is for the others in the group.") : gettext("You sent this red packet.");
  }
  if (info.expired) return gettext("This red packet has expired.");
  if (info.exhausted) return info.detail.count === 1 ? gettext("Someone else claimed it.") : gettext("All taken: every share has been claimed.");
  return "";
}

function summaryText(info) {
  const { detail } = info;
  if (info.expired) {
    const back = detail.refunded_amount;
    return typeof back === "number" && back > 0
      ? interpolate(gettext("Expired: %(amount)s went back to %(name)s."), { amount: coinsText(back), name: (detail.sender && detail.sender.display_name) || "" })
      : gettext("Expired");
  }
  if (info.exhausted && detail.count === 1) return gettext("Claimed.");
  if (info.exhausted) return interpolate(ngettext("All taken (%(count)s share).", "All taken (%(count)s shares).", detail.count), { count: detail.count });
  const parts = [interpolate(gettext("%(left)s of %(count)s left"), { left: detail.remaining_count, count: detail.count })];
  if (detail.expires_at) parts.push(interpolate(gettext("expires %(time)s"), { time: formatFull(detail.expires_at) }));
  return parts.join(" · ");
}

function modeText(detail) {
  const amount = coinsText(detail.total);
  if (detail.count === 1) return amount;
  const format = detail.mode === "equal"
    ? ngettext("%(amount)s in %(count)s equal share", "%(amount)s in %(count)s equal shares", detail.count)
    : ngettext("%(amount)s in %(count)s random share", "%(amount)s in %(count)s random shares", detail.count);
  return interpolate(format, { amount, count: detail.count });
}

function claimsList(info) {
  const claims = info.detail.claims || [];
  if (!claims.length) return el("p", { class: "muted rp-no-claims" }, gettext("No one has claimed it yet."));
  const list = el("ul", { class: "rp-claims", "aria-label": gettext("Claims") });
  for (const claim of claims) {
    const number = numberOf(claim.user);
    const name = (claim.user && claim.user.display_name) || displayName(number);
    const lucky = info.luckiest !== null && number === info.luckiest && info.detail.count > 1;
    list.append(
      el(
        "li",
        { class: lucky ? "rp-lucky" : "" },
        number !== null ? avatar(number) : null,
        el(
          "span",
          { class: "rp-claim-who" },
          el("span", { class: "rp-claim-name" }, number === state.me.number ? interpolate(gettext("%(name)s (you)"), { name }) : name),
          claim.at ? el("time", { datetime: claim.at, class: "muted" }, formatTime(claim.at)) : null,
        ),
        lucky ? el("span", { class: "rp-lucky-mark" }, "👑 ", gettext("Luckiest")) : null,
        el("span", { class: "rp-claim-amount" }, coinsText(claim.amount)),
      ),
    );
  }
  return list;
}

export function openPacketDialog(id, message) {
  const senderName = (message.sender && message.sender.display_name) || "";
  let note = ""; // what the last claim attempt said, when it is not in the details
  let claiming = false;

  openDialog({
    title: interpolate(gettext("Red packet from %(name)s"), { name: senderName }),
    kind: "rp-open-dialog",
    build: ({ dialog, body }) => {
      const render = () => {
        const info = describe(id);
        const greeting = message.body || (info.known && info.detail.greeting) || gettext("Best wishes");
        const hero = el(
          "div",
          { class: `rp-hero${info.known && !info.claimable ? " rp-done" : ""}` },
          message.sender ? avatar(message.sender.number) : null,
          el("p", { class: "rp-hero-from" }, senderName),
          el("p", { class: "rp-hero-greeting" }, greeting),
          info.known ? el("p", { class: "rp-hero-mode" }, modeText(info.detail)) : null,
        );
        const result = el("p", { class: `rp-result${info.mine !== null ? " rp-won" : ""}`, role: "status" }, note || resultText(info));
        const parts = [hero, result];
        if (info.known && info.claimable) {
          parts.push(
            el(
              "div",
              { class: "rp-claim-row" },
              el("button", { type: "button", class: "rp-claim", disabled: claiming, onclick: claim }, claiming ? gettext("Claiming…") : gettext("Claim")),
            ),
          );
        }
        if (info.known) {
          parts.push(
            el("p", { class: "rp-summary muted" }, summaryText(info)),
            el("h3", {}, gettext("Claims")),
            claimsList(info),
          );
        }
        const hadFocus = body.contains(document.activeElement);
        body.replaceChildren(...parts);
        // Keep focus in the dialog across redraws: on the claim button, else the close button.
        if (hadFocus) {
          const again = body.querySelector(".rp-claim") || dialog.querySelector(".dialog-head .icon-button");
          if (again) again.focus();
        }
      };

      const claim = async () => {
        if (claiming) return;
        claiming = true;
        note = "";
        render();
        try {
          await claimPacket(id);
        } catch (error) {
          // Refusals that tell something (already claimed, all taken, expired, gone) are in the
          // details now; others are said here.
          if (!["exhausted", "expired", "not_found", "already_claimed", "sender_cannot_claim"].includes(error.code)) {
            note = error.code === "rate_limited" ? gettext("Too many requests just now. Wait a moment and try again.") : error.message;
          }
        } finally {
          claiming = false;
          render();
        }
      };

      openDetail = { id, render };
      dialog.addEventListener("close", () => {
        if (openDetail && openDetail.render === render) openDetail = null;
      });
      render();
    },
  });
  loadPacket(id, { force: true });
  const claimButton = document.querySelector(".rp-dialog .rp-claim");
  if (claimButton) claimButton.focus();
}

// Red packets as the chat page knows them (CONTRACT section 6): each packet's details from
// `GET red-packets/<id>`, cached by id, fetched when a card first needs them (a few at a time), and
// kept live from `red_packet.claimed` / `red_packet.expired` (applied at once, then the server's
// details fetched again); claiming and sending. Fields the server may not send yet (`expired`,
// `my_claim`, `luckiest` as a number, an event's `remaining_count`) are read when present.
// A change emits the store topic "red-packet" with the packet's id; nothing here touches the DOM.
import { api, get, post } from "./api.js";
import { interpolate, ngettext } from "./i18n.js";
import * as store from "./store.js";

const { state } = store;
const FETCHES_AT_ONCE = 3;
const REFRESH_AFTER_EVENT_MS = 250;

const packets = new Map(); // id -> {detail: object|null, missing: bool, loading: Promise|null, again: bool}

export function coinsText(amount) {
  return interpolate(ngettext("%(count)s coin", "%(count)s coins", amount), { count: amount });
}

function changed(id) {
  store.emit("red-packet", id);
}

// --- Details: cache, fetches, derived state -----------------------------------------------------------

const queue = [];
let running = 0;

function schedule(task) {
  return new Promise((resolve, reject) => {
    queue.push({ task, resolve, reject });
    pump();
  });
}

function pump() {
  while (running < FETCHES_AT_ONCE && queue.length) {
    const { task, resolve, reject } = queue.shift();
    running += 1;
    task()
      .then(resolve, reject)
      .finally(() => {
        running -= 1;
        pump();
      });
  }
}

function entry(id) {
  let known = packets.get(id);
  if (!known) {
    known = { detail: null, missing: false, loading: null, again: false };
    packets.set(id, known);
  }
  return known;
}

// The packet's details from the server; `force` fetches again even when known (once more after a
// fetch already under way, so an event during it is not lost).
export function loadPacket(id, { force = false } = {}) {
  const known = entry(id);
  if (known.loading) {
    if (force) known.again = true;
    return known.loading;
  }
  if (!force && (known.detail || known.missing)) return Promise.resolve(known);
  known.loading = schedule(() => get(`red-packets/${id}`))
    .then((detail) => {
      known.detail = detail;
      known.missing = false;
      for (const line of detail.claims || []) store.rememberUser(line.user);
      if (detail.sender) store.rememberUser(detail.sender);
    })
    .catch((error) => {
      // Gone or never ours (recalled, left the group): say so. Other failures keep what we had.
      if (error.status === 404) {
        known.missing = true;
        known.detail = null;
      }
    })
    .finally(() => {
      known.loading = null;
      changed(id);
      if (known.again) {
        known.again = false;
        loadPacket(id, { force: true });
      }
    })
    .then(() => known);
  return known.loading;
}

const refreshTimers = new Map();

function refreshSoon(id) {
  clearTimeout(refreshTimers.get(id));
  refreshTimers.set(
    id,
    setTimeout(() => {
      refreshTimers.delete(id);
      loadPacket(id, { force: true });
    }, REFRESH_AFTER_EVENT_MS),
  );
}

export function numberOf(user) {
  if (typeof user === "number") return user;
  return user && typeof user.number === "number" ? user.number : null;
}

function myAmount(detail) {
  if (typeof detail.my_amount === "number") return detail.my_amount;
  if (typeof detail.my_claim === "number") return detail.my_claim;
  if (detail.my_claim && typeof detail.my_claim.amount === "number") return detail.my_claim.amount;
  const line = (detail.claims || []).find((claim) => numberOf(claim.user) === state.me.number);
  return line ? line.amount : null;
}

// Everything the card and the dialog show, from whatever fields the server sent.
export function describe(id) {
  const known = packets.get(id);
  const detail = known && known.detail;
  if (!detail) return { known: false, missing: Boolean(known && known.missing) };
  const expired =
    detail.status === "expired" ||
    detail.expired === true ||
    (detail.status !== "exhausted" && Boolean(detail.expires_at) && Date.now() >= Date.parse(detail.expires_at));
  const exhausted = !expired && (detail.status === "exhausted" || detail.remaining_count === 0);
  const mine = myAmount(detail);
  const senderNumber = numberOf(detail.sender);
  const isSender = senderNumber !== null && senderNumber === state.me.number;
  const claimable = typeof detail.can_claim === "boolean" && !expired && !exhausted
    ? detail.can_claim && mine === null
    : !expired && !exhausted && !isSender && mine === null;
  const conversation = state.conversations.get(detail.conversation);
  return {
    known: true,
    missing: false,
    detail,
    expired,
    exhausted,
    mine,
    isSender,
    claimable,
    group: conversation ? conversation.kind === "group" : detail.count > 1,
    luckiest: numberOf(detail.luckiest),
  };
}

// --- Socket events ----------------------------------------------------------------------------------------

// Called with every socket frame; acts on the red-packet ones.
export function handleRedPacketFrame(frame) {
  if (frame.type !== "red_packet.claimed" && frame.type !== "red_packet.expired") return;
  const id = Number(frame.red_packet);
  const known = packets.get(id);
  if (known && known.detail) {
    const detail = known.detail;
    if (frame.type === "red_packet.claimed") {
      const number = numberOf(frame.user);
      const claims = detail.claims || (detail.claims = []);
      if (number !== null && !claims.some((claim) => numberOf(claim.user) === number)) {
        const person = state.people.get(number) || { number, display_name: `#${number}` };
        claims.push({ user: person, amount: frame.amount, at: new Date().toISOString() });
        if (typeof frame.remaining_count !== "number") detail.remaining_count = Math.max((detail.remaining_count || 1) - 1, 0);
        if (typeof detail.remaining_amount === "number") detail.remaining_amount = Math.max(detail.remaining_amount - frame.amount, 0);
      }
      if (typeof frame.remaining_count === "number") detail.remaining_count = frame.remaining_count;
      if (detail.remaining_count === 0 && detail.status === "open") detail.status = "exhausted";
      if (number === state.me.number) {
        detail.my_amount = frame.amount;
        detail.can_claim = false;
      }
    } else {
      detail.status = "expired";
      detail.expired = true;
      detail.can_claim = false;
      if (typeof frame.refunded === "number") detail.refunded_amount = frame.refunded;
      detail.remaining_amount = 0;
      detail.remaining_count = 0;
    }
    changed(id);
  }
  // The server's word (claims' names and times, the luckiest) shortly after.
  if (known) refreshSoon(id);
}

// --- Sending and claiming ---------------------------------------------------------------------------------

// POST the packet (💰: with the caller's Idempotency-Key); its details are known at once.
export async function sendPacket(conversationId, payload, idempotencyKey) {
  const packet = await api("POST", `conversations/${conversationId}/red-packets`, payload, { "Idempotency-Key": idempotencyKey });
  if (packet && typeof packet.id === "number") {
    const known = entry(packet.id);
    known.detail = packet;
    known.missing = false;
    changed(packet.id);
  }
  return packet;
}

// Claim a share: returns the amount won. A refusal is thrown (an ApiError) after what it tells is
// applied (already claimed, all taken, expired, gone), so the views only need to redraw.
export async function claimPacket(id) {
  const known = entry(id);
  try {
    const answer = await post(`red-packets/${id}/claim`);
    if (typeof answer.balance === "number") store.setBalance(answer.balance);
    handleRedPacketFrame({ type: "red_packet.claimed", red_packet: id, user: state.me.number, amount: answer.amount });
    return answer.amount;
  } catch (error) {
    const detail = known.detail;
    if (detail && ["exhausted", "expired", "already_claimed", "sender_cannot_claim"].includes(error.code)) {
      detail.can_claim = false;
      if (error.code === "exhausted") detail.status = "exhausted";
      if (error.code === "expired") detail.status = "expired";
    }
    if (error.code === "not_found") {
      known.missing = true;
      known.detail = null;
    } else {
      loadPacket(id, { force: true });
    }
    changed(id);
    throw error;
  }
}

// Back online after a gap: what the page shows may have changed meanwhile.
export function refreshPackets(ids) {
  for (const id of ids) if (packets.has(id)) loadPacket(id, { force: true });
}

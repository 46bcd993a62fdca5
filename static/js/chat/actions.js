// What the user does (send, retry, edit, recall, open a conversation, read, type) and what the
// server tells (socket frames), on top of the store. Views call these; they never call the API.
import { api, get, post } from "./api.js";
import { gettext } from "./i18n.js";
import * as store from "./store.js";

const { state } = store;
let socket = null;
const TYPING_EVERY_MS = 2000;
const HISTORY_PAGE = 50;

export function useSocket(chatSocket) {
  socket = chatSocket;
}

// A short message for the status line at the top of the conversation pane.
export function notify(text, kind = "error") {
  store.emit("notice", { text, kind });
}

function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  return `c-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// --- Loading ----------------------------------------------------------------------------------------

export async function refreshConversations() {
  store.setConversations(await get("conversations"));
}

export async function refreshPeople() {
  const [friends, requests] = await Promise.all([get("friends"), get("friends/requests")]);
  store.setFriends(friends);
  store.setRequests(requests);
}

export async function refreshBalance() {
  try {
    store.setBalance((await get("coins/wallet")).balance);
  } catch {
    // The balance is a convenience on this page; the wallet page shows errors.
  }
}

export async function loadMembers(conversationId) {
  const members = await get(`conversations/${conversationId}/members`);
  store.setMembers(conversationId, members);
  return members;
}

export async function openConversation(conversationId) {
  store.setActive(conversationId);
  const thread = store.thread(conversationId);
  const conversation = state.conversations.get(conversationId);
  if (conversation && !state.members.has(conversationId)) loadMembers(conversationId).catch(() => {});
  if (!thread.loaded && !thread.loading) {
    thread.loading = true;
    try {
      const page = await get(`conversations/${conversationId}/messages?limit=${HISTORY_PAGE}`);
      thread.hasMoreBefore = page.has_more;
      thread.loaded = true;
      store.addHistory(conversationId, page.results);
    } catch (error) {
      notify(error.message);
    } finally {
      thread.loading = false;
      store.emit("thread", conversationId);
    }
  }
  markRead(conversationId);
}

export async function loadOlder(conversationId) {
  const thread = store.thread(conversationId);
  if (thread.loading || !thread.hasMoreBefore || !thread.loaded) return;
  const oldest = store.sortedMessages(conversationId)[0];
  thread.loading = true;
  store.emit("thread", conversationId);
  try {
    const cursor = oldest ? `&before=${oldest.id}` : "";
    const page = await get(`conversations/${conversationId}/messages?limit=${HISTORY_PAGE}${cursor}`);
    thread.hasMoreBefore = page.has_more;
    store.addHistory(conversationId, page.results);
  } catch (error) {
    notify(error.message);
  } finally {
    thread.loading = false;
    store.emit("thread", conversationId);
  }
}

export async function openDirect(number) {
  try {
    const conversation = await post("conversations/direct", { user: number });
    store.upsertConversation(conversation);
    await openConversation(conversation.id);
  } catch (error) {
    notify(error.message);
  }
}

// --- Reading ----------------------------------------------------------------------------------------

// The open conversation, on screen: move the read marker to its newest message.
export function markRead(conversationId) {
  if (conversationId !== state.activeId || document.visibilityState !== "visible") return;
  if (!document.body.classList.contains("showing-pane") && window.matchMedia("(max-width: 699px)").matches) return;
  const conversation = state.conversations.get(conversationId);
  const upTo = store.newestMessageId(conversationId);
  if (!conversation || !upTo) return;
  if (upTo <= (conversation.last_read_id || 0) && !conversation.unread_count) return;
  store.markReadLocally(conversationId, upTo);
  if (!socket.send({ type: "read", conversation: conversationId, up_to: upTo })) {
    post(`conversations/${conversationId}/read`, { up_to: upTo }).catch(() => {});
  }
}

// --- Sending ----------------------------------------------------------------------------------------

// `extra`: another kind with its data, e.g. {kind: "sticker", data: {sku, sticker}} (views/stickers.js).
export function sendText(conversationId, body, extra = {}) {
  const pending = {
    client_id: newClientId(),
    conversation: conversationId,
    body,
    kind: extra.kind,
    data: extra.data,
    status: "sending",
    via: "socket",
    detail: "",
    created_at: new Date().toISOString(),
  };
  store.addPending(conversationId, pending);
  transmit(pending);
}

export function retry(clientId) {
  const found = store.findPending(clientId);
  if (!found) return;
  found.pending.status = "sending";
  found.pending.detail = "";
  store.emit("thread", found.conversationId);
  transmit(found.pending);
}

// Over the socket when it is up; otherwise over HTTP (same client_id: the server keeps one).
function transmit(pending) {
  const frame = { type: "message.send", conversation: pending.conversation, body: pending.body, client_id: pending.client_id };
  const kindAndData = pending.kind ? { kind: pending.kind, data: pending.data } : {};
  if (socket.send({ ...frame, ...kindAndData })) {
    pending.via = "socket";
    return;
  }
  pending.via = "http";
  post(`conversations/${pending.conversation}/messages`, {
    body: pending.body,
    client_id: pending.client_id,
    ...kindAndData,
  })
    .then((message) => store.addMessage(message, { countUnread: false }))
    .catch((error) => store.setPendingStatus(pending.client_id, "failed", error.message));
}

let lastTypingSent = 0;
let lastTypingConversation = null;

export function typing(conversationId) {
  const now = Date.now();
  if (lastTypingConversation === conversationId && now - lastTypingSent < TYPING_EVERY_MS) return;
  if (socket.send({ type: "typing", conversation: conversationId })) {
    lastTypingSent = now;
    lastTypingConversation = conversationId;
  }
}

export async function editMessage(messageId, body) {
  const message = await api("PATCH", `messages/${messageId}`, { body });
  store.changeMessage(message);
}

export async function recallMessage(message) {
  await api("DELETE", `messages/${message.id}`);
  store.changeMessage({ ...message, recalled: true, body: "", data: {} });
}

// --- Server frames ----------------------------------------------------------------------------------

function visibleNow(conversationId) {
  return conversationId === state.activeId && document.visibilityState === "visible";
}

async function ensureConversation(conversationId) {
  if (state.conversations.has(conversationId)) return;
  try {
    store.upsertConversation(await get(`conversations/${conversationId}`));
  } catch {
    // Gone already (left, removed); the next refresh settles it.
  }
}

export function handleFrame(frame) {
  switch (frame.type) {
    case "message.ack":
      store.addMessage(frame.message, { countUnread: false });
      break;
    case "message.new": {
      const message = frame.message;
      const known = state.conversations.has(message.conversation);
      store.addMessage(message, { seenNow: visibleNow(message.conversation) });
      if (!known) ensureConversation(message.conversation);
      if (visibleNow(message.conversation)) markRead(message.conversation);
      break;
    }
    case "message.edited":
    case "message.recalled":
      store.changeMessage(frame.message);
      break;
    case "read":
      if (state.me && frame.user === state.me.number) store.markReadLocally(frame.conversation, frame.up_to);
      else store.setPeerRead(frame.conversation, frame.up_to);
      break;
    case "typing":
      if (!state.me || frame.user !== state.me.number) store.setTyping(frame.conversation, frame.user);
      break;
    case "presence":
      store.setPresence(frame.user, frame.presence);
      break;
    case "friend.request":
      store.addRequest(frame.request);
      break;
    case "friend.accepted":
      store.rememberUser(frame.user);
      refreshPeople().catch(() => {});
      break;
    case "conversation.new":
      store.upsertConversation(frame.conversation);
      break;
    case "conversation.left":
      if (frame.conversation === state.activeId) notify(gettext("You are no longer in this group."), "info");
      store.removeConversation(frame.conversation);
      break;
    case "coins.balance":
      store.setBalance(frame.balance);
      break;
    case "error":
      if (frame.client_id && store.findPending(frame.client_id)) {
        store.setPendingStatus(frame.client_id, "failed", frame.detail || "");
      } else if (frame.code !== "rate_limited") {
        notify(frame.detail || gettext("Something went wrong. Please try again."));
      }
      break;
    default:
      break; // events this page does not show (red packets claimed, …)
  }
}

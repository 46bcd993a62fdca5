// The page's state: people, conversations, messages (sent ones by id, plus this tab's pending
// sends), presence, typing and read markers. Views subscribe to topics and re-render; nothing
// here touches the DOM.

const listeners = new Map();

export function on(topic, listener) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(listener);
}

export function emit(topic, detail) {
  for (const listener of listeners.get(topic) || []) listener(detail);
}

export const state = {
  me: null,
  friends: new Map(), // number -> {user, group, since}
  incoming: [], // friend requests
  outgoing: [],
  people: new Map(), // number -> user object (avatars, names)
  presence: new Map(), // number -> presence
  conversations: new Map(), // id -> conversation
  threads: new Map(), // conversation id -> thread (below)
  members: new Map(), // conversation id -> [{user, role, joined_at}]
  typing: new Map(), // conversation id -> Map(number -> expires at ms)
  peerRead: new Map(), // direct conversation id -> the peer's read marker
  activeId: null,
  connection: { state: "connecting", retryInMs: 0 },
  balance: null,
  maxMessageId: 0,
};

function thread(conversationId) {
  let value = state.threads.get(conversationId);
  if (!value) {
    value = { messages: new Map(), pending: [], loaded: false, loading: false, hasMoreBefore: true };
    state.threads.set(conversationId, value);
  }
  return value;
}
export { thread };

// --- People -----------------------------------------------------------------------------------------

export function rememberUser(user) {
  if (!user || typeof user.number !== "number") return;
  state.people.set(user.number, { ...(state.people.get(user.number) || {}), ...user });
  if (user.presence) state.presence.set(user.number, user.presence);
}

export function setFriends(list) {
  state.friends = new Map(list.map((friend) => [friend.user.number, friend]));
  list.forEach((friend) => rememberUser(friend.user));
  emit("friends");
  emit("presence");
}

export function setRequests({ incoming, outgoing }) {
  state.incoming = incoming;
  state.outgoing = outgoing;
  [...incoming, ...outgoing].forEach((request) => {
    rememberUser(request.from);
    rememberUser(request.to);
  });
  emit("requests");
}

export function addRequest(request) {
  rememberUser(request.from);
  rememberUser(request.to);
  const list = request.to.number === state.me.number ? state.incoming : state.outgoing;
  if (!list.some((known) => known.id === request.id)) list.unshift(request);
  emit("requests");
}

export function removeRequest(id) {
  state.incoming = state.incoming.filter((request) => request.id !== id);
  state.outgoing = state.outgoing.filter((request) => request.id !== id);
  emit("requests");
}

export function setPresence(number, presence) {
  state.presence.set(number, presence);
  emit("presence");
}

export function presenceOf(number) {
  return state.presence.get(number) || "offline";
}

// --- Conversations ----------------------------------------------------------------------------------

function activityTime(conversation) {
  const moment = conversation.last_message ? conversation.last_message.created_at : conversation.created_at;
  return moment ? Date.parse(moment) : 0;
}

export function conversationsByActivity() {
  return [...state.conversations.values()].sort(
    (a, b) => activityTime(b) - activityTime(a) || b.id - a.id,
  );
}

function noteMessageId(id) {
  if (id > state.maxMessageId) state.maxMessageId = id;
}

// A fresh list from the server. A conversation whose newest message this page already has past
// the server's (it arrived while the request was under way) keeps its local preview and count.
export function setConversations(list) {
  const next = new Map();
  for (const fresh of list) {
    const known = state.conversations.get(fresh.id);
    const knownLast = known && known.last_message ? known.last_message.id : 0;
    const freshLast = fresh.last_message ? fresh.last_message.id : 0;
    let merged = knownLast > freshLast ? { ...fresh, last_message: known.last_message, unread_count: known.unread_count } : fresh;
    // A read this page made while the request was under way: the server's answer predates it.
    if (known && (known.last_read_id || 0) > (merged.last_read_id || 0)) {
      merged = { ...merged, last_read_id: known.last_read_id, unread_count: Math.min(merged.unread_count || 0, known.unread_count || 0) };
    }
    next.set(fresh.id, merged);
    if (fresh.last_message) noteMessageId(fresh.last_message.id);
  }
  state.conversations = next;
  if (state.activeId !== null && !next.has(state.activeId)) setActive(null);
  emit("conversations");
  emit("unread");
}

export function upsertConversation(conversation) {
  const known = state.conversations.get(conversation.id);
  state.conversations.set(conversation.id, { ...(known || {}), ...conversation });
  if (conversation.last_message) noteMessageId(conversation.last_message.id);
  emit("conversations");
  emit("unread");
  if (conversation.id === state.activeId) emit("active");
}

export function removeConversation(id) {
  state.conversations.delete(id);
  state.threads.delete(id);
  state.members.delete(id);
  if (state.activeId === id) setActive(null);
  emit("conversations");
  emit("unread");
}

export function setActive(id) {
  state.activeId = id;
  emit("active");
  emit("conversations");
}

export function totalUnread() {
  let total = 0;
  for (const conversation of state.conversations.values()) total += conversation.unread_count || 0;
  return total;
}

export function setMembers(conversationId, members) {
  state.members.set(conversationId, members);
  members.forEach((member) => rememberUser(member.user));
  const conversation = state.conversations.get(conversationId);
  if (conversation) conversation.members_count = members.length;
  emit("members", conversationId);
  emit("thread", conversationId);
}

// --- Messages ---------------------------------------------------------------------------------------

// A page of history: one render for all of it.
export function addHistory(conversationId, messages) {
  for (const message of messages) addMessage(message, { countUnread: false, quiet: true });
  emit("conversations");
  emit("thread", conversationId);
}

// A message from history, an ack, `message.new` or sync. Returns true if it was new to the page.
export function addMessage(message, { countUnread = true, seenNow = false, quiet = false } = {}) {
  const id = message.conversation;
  const conversationThread = thread(id);
  const isNew = !conversationThread.messages.has(message.id);
  conversationThread.messages.set(message.id, message);
  noteMessageId(message.id);
  if (message.client_id) {
    const before = conversationThread.pending.length;
    conversationThread.pending = conversationThread.pending.filter((p) => p.client_id !== message.client_id);
    if (before !== conversationThread.pending.length && isNew) countUnread = false;
  }
  const conversation = state.conversations.get(id);
  if (conversation) {
    if (!conversation.last_message || conversation.last_message.id <= message.id) {
      conversation.last_message = message;
    }
    const fromOther = message.sender && state.me && message.sender.number !== state.me.number;
    if (isNew && countUnread && fromOther && !message.recalled && !seenNow && message.id > (conversation.last_read_id || 0)) {
      conversation.unread_count = (conversation.unread_count || 0) + 1;
    }
    if (!quiet) {
      emit("conversations");
      emit("unread");
    }
  }
  if (message.sender) clearTyping(id, message.sender.number);
  if (!quiet) emit("thread", id);
  return isNew;
}

// message.edited / message.recalled / the answer of a PATCH.
export function changeMessage(message) {
  const id = message.conversation;
  const conversationThread = state.threads.get(id);
  if (conversationThread && conversationThread.messages.has(message.id)) {
    conversationThread.messages.set(message.id, message);
  }
  const conversation = state.conversations.get(id);
  if (conversation && conversation.last_message && conversation.last_message.id === message.id) {
    conversation.last_message = message;
    emit("conversations");
  }
  emit("thread", id);
}

export function sortedMessages(conversationId) {
  const conversationThread = thread(conversationId);
  return [...conversationThread.messages.values()].sort((a, b) => a.id - b.id);
}

export function newestMessageId(conversationId) {
  let newest = 0;
  for (const id of thread(conversationId).messages.keys()) newest = Math.max(newest, id);
  return newest;
}

export function addPending(conversationId, pending) {
  thread(conversationId).pending.push(pending);
  emit("thread", conversationId);
}

export function findPending(clientId) {
  for (const [conversationId, conversationThread] of state.threads) {
    const pending = conversationThread.pending.find((p) => p.client_id === clientId);
    if (pending) return { conversationId, pending };
  }
  return null;
}

export function setPendingStatus(clientId, status, detail = "") {
  const found = findPending(clientId);
  if (!found) return;
  found.pending.status = status;
  found.pending.detail = detail;
  emit("thread", found.conversationId);
}

// The socket went away: whatever was waiting for its ack is "Not sent" (Retry resends it with the
// same client_id, so a message the server did store is not doubled).
export function failSending() {
  for (const [conversationId, conversationThread] of state.threads) {
    let changed = false;
    for (const pending of conversationThread.pending) {
      if (pending.status === "sending" && pending.via === "socket") {
        pending.status = "failed";
        pending.detail = "";
        changed = true;
      }
    }
    if (changed) emit("thread", conversationId);
  }
}

// --- Read markers and typing -------------------------------------------------------------------------

export function markReadLocally(conversationId, upTo) {
  const conversation = state.conversations.get(conversationId);
  if (!conversation) return;
  conversation.last_read_id = Math.max(conversation.last_read_id || 0, upTo);
  let unread = 0;
  for (const message of thread(conversationId).messages.values()) {
    const fromOther = message.sender && message.sender.number !== state.me.number;
    if (fromOther && !message.recalled && message.id > conversation.last_read_id) unread += 1;
  }
  const last = conversation.last_message;
  conversation.unread_count = last && last.id > conversation.last_read_id ? Math.max(unread, 0) : 0;
  emit("conversations");
  emit("unread");
}

export function setPeerRead(conversationId, upTo) {
  state.peerRead.set(conversationId, Math.max(state.peerRead.get(conversationId) || 0, upTo));
  emit("thread", conversationId);
}

const TYPING_SHOWN_MS = 5000;

export function setTyping(conversationId, number) {
  if (!state.typing.has(conversationId)) state.typing.set(conversationId, new Map());
  state.typing.get(conversationId).set(number, Date.now() + TYPING_SHOWN_MS);
  emit("typing", conversationId);
  setTimeout(() => emit("typing", conversationId), TYPING_SHOWN_MS + 50);
}

function clearTyping(conversationId, number) {
  const typing = state.typing.get(conversationId);
  if (typing && typing.delete(number)) emit("typing", conversationId);
}

export function typingIn(conversationId) {
  const typing = state.typing.get(conversationId);
  if (!typing) return [];
  const now = Date.now();
  return [...typing.entries()].filter(([, until]) => until > now).map(([number]) => number);
}

export function setConnection(connectionState, retryInMs = 0) {
  state.connection = { state: connectionState, retryInMs };
  emit("connection");
}

export function setBalance(balance) {
  state.balance = balance;
  emit("balance");
}

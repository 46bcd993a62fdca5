// Boot of the chat page: reads the initial data the server rendered (#chat-data), mounts the
// views, loads the conversations, then opens the socket (which syncs from the newest message the
// page has, so nothing said in between is missed).
import * as actions from "./actions.js";
import { configureApi } from "./api.js";
import { byId } from "./dom.js";
import { gettext } from "./i18n.js";
import { handleRedPacketFrame } from "./redpackets.js";
import { handleStoreFrame, refreshCatalog } from "./shop.js";
import { ChatSocket } from "./socket.js";
import * as store from "./store.js";
import { setDefaultAvatar } from "./views/common.js";
import { mountComposer } from "./views/composer.js";
import { mountConversation } from "./views/conversation.js";
import { mountGifts } from "./views/gifts.js";
import { mountRedPackets } from "./views/redpacket.js";
import { mountSidebar } from "./views/sidebar.js";
import { clarifySendError, mountStickers } from "./views/stickers.js";

const { state } = store;
const data = JSON.parse(byId("chat-data").textContent);
const loginUrl = `${data.urls.login}?next=${encodeURIComponent(location.pathname)}`;
const baseTitle = document.title;

configureApi({ root: data.urls.api, csrfToken: data.csrf_token });
setDefaultAvatar(data.urls.default_avatar);
state.me = data.me;
state.bodyMax = data.body_max;
store.rememberUser(data.me);
store.setFriends(data.friends);
store.setRequests(data.requests);

mountSidebar();
mountConversation();
mountComposer();
mountStickers({ store: data.urls.store });
mountGifts({ store: data.urls.store });
mountRedPackets();

// Phones show the list or the conversation; "Back" returns to the list.
const layout = byId("chat");
store.on("show-pane", () => {
  document.body.classList.add("showing-pane");
  layout.dataset.view = "conversation";
});
byId("pane-back").addEventListener("click", () => {
  document.body.classList.remove("showing-pane");
  layout.dataset.view = "list";
  const item = document.querySelector(`[data-conversation="${state.activeId}"]`);
  if (item) item.focus();
});
store.on("active", () => {
  if (state.activeId === null) {
    document.body.classList.remove("showing-pane");
    layout.dataset.view = "list";
    history.replaceState(null, "", location.pathname);
  } else {
    history.replaceState(null, "", `#conversation-${state.activeId}`);
  }
});

store.on("unread", () => {
  const total = store.totalUnread();
  document.title = total ? `(${total > 99 ? "99+" : total}) ${baseTitle}` : baseTitle;
});

document.addEventListener("visibilitychange", () => {
  if (state.activeId !== null) actions.markRead(state.activeId);
});
window.addEventListener("focus", () => {
  if (state.activeId !== null) actions.markRead(state.activeId);
});

window.addEventListener("huddle:logged-out", () => location.assign(loginUrl));

let synced = false;
const socket = new ChatSocket({
  url: `${location.protocol === "https:" ? "wss://" : "ws://"}${location.host}${data.urls.socket}`,
  lastMessageId: () => state.maxMessageId,
  onFrame: (frame) => {
    handleRedPacketFrame(frame); // red_packet.* (the cards), then the rest as before
    return handleStoreFrame(frame) || actions.handleFrame(clarifySendError(frame));
  },
  onState: (connection, { retryInMs = 0 } = {}) => store.setConnection(connection, retryInMs),
  onDown: () => store.failSending(),
  onLoggedOut: () => location.assign(loginUrl),
  onSynced: () => {
    // Counts, previews and people as the server has them now (the sync brought the messages).
    actions.refreshConversations().catch(() => {});
    if (synced) actions.refreshPeople().catch(() => {});
    if (synced) refreshCatalog().catch(() => {}); // store events missed while down
    synced = true;
  },
});
actions.useSocket(socket);

async function boot() {
  try {
    await actions.refreshConversations();
  } catch (error) {
    actions.notify(error.message || gettext("Could not load your conversations."));
  }
  byId("conversations-loading").hidden = true;
  socket.start();
  actions.refreshBalance();
  refreshCatalog().catch(() => {}); // stickers' and gifts' names and pictures
  const wanted = /^#conversation-(\d+)$/.exec(location.hash);
  if (wanted && state.conversations.has(Number(wanted[1]))) {
    actions.openConversation(Number(wanted[1]));
    store.emit("show-pane");
  }
}

boot();

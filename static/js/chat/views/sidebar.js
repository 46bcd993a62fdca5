// The sidebar: who I am and the connection, people search, conversations, friend requests and
// friends by buddy group.
import * as actions from "../actions.js";
import { api, get, post } from "../api.js";
import { byId, el, reconcile } from "../dom.js";
import { formatListTime } from "../format.js";
import { gettext, interpolate, ngettext } from "../i18n.js";
import * as store from "../store.js";
import { avatar, presenceLabel, presenceWord, previewOf } from "./common.js";
import { newGroupDialog } from "./dialogs.js";

const { state } = store;

export function mountSidebar() {
  renderMe();
  renderConversations();
  renderRequests();
  renderFriends();
  renderConnection();
  store.on("conversations", renderConversations);
  store.on("typing", renderConversations);
  store.on("presence", () => {
    renderConversations();
    renderFriends();
  });
  store.on("friends", renderFriends);
  store.on("requests", renderRequests);
  store.on("connection", renderConnection);
  store.on("balance", renderBalance);
  byId("new-group").addEventListener("click", newGroupDialog);
  mountSearch();
}

function renderMe() {
  const me = state.me;
  const select = byId("my-presence");
  select.value = me.presence;
  select.addEventListener("change", async () => {
    try {
      const updated = await api("PATCH", "me", { presence: select.value });
      state.me = { ...state.me, ...updated };
    } catch (error) {
      actions.notify(error.message);
      select.value = state.me.presence;
    }
  });
}

function renderBalance() {
  const output = byId("balance");
  if (output && state.balance !== null) output.textContent = String(state.balance);
}

let countdown = null;
let everOnline = false;

// The status's own text is one of "Connected", "Connecting…", "Reconnecting…", "Offline"; the
// retry countdown is beside it.
function renderConnection() {
  const status = byId("connection-status");
  const retry = byId("connection-retry");
  const { state: connection, retryInMs } = state.connection;
  clearInterval(countdown);
  retry.textContent = "";
  status.dataset.state = connection;
  if (connection === "online") {
    everOnline = true;
    status.textContent = gettext("Connected");
  } else if (connection === "connecting" || connection === "syncing") {
    status.textContent = everOnline ? gettext("Reconnecting…") : gettext("Connecting…");
  } else {
    status.textContent = gettext("Offline");
    if (connection === "offline") {
      const until = Date.now() + retryInMs;
      const tick = () => {
        const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        retry.textContent = interpolate(gettext("retrying in %(seconds)s s"), { seconds });
      };
      tick();
      countdown = setInterval(tick, 1000);
    }
  }
}

// --- Conversations ----------------------------------------------------------------------------------

function conversationItem(conversation) {
  const active = conversation.id === state.activeId;
  const typing = store.typingIn(conversation.id);
  const direct = conversation.kind === "direct" && conversation.peer;
  const picture = direct ? avatar(conversation.peer, { presence: true, spoken: false }) : groupBadge(conversation);
  const unread = conversation.unread_count || 0;
  const time = conversation.last_message ? conversation.last_message.created_at : conversation.created_at;
  const preview = typing.length
    ? el("span", { class: "preview typing" }, gettext("typing…"))
    : el("span", { class: "preview" }, previewOf(conversation));
  // The button's accessible name starts with the title (then presence, time, preview, unread).
  return el(
    "li",
    {},
    el(
      "button",
      {
        type: "button",
        class: `conversation-item${active ? " active" : ""}${unread ? " has-unread" : ""}`,
        "aria-current": active ? "true" : null,
        dataset: { conversation: String(conversation.id) },
        onclick: () => {
          actions.openConversation(conversation.id);
          store.emit("show-pane");
        },
      },
      picture,
      el(
        "span",
        { class: "conversation-text" },
        el(
          "span",
          { class: "conversation-top" },
          el("span", { class: "conversation-title" }, conversation.title || gettext("Untitled")),
          direct ? el("span", { class: "visually-hidden" }, ` ${presenceWord(store.presenceOf(conversation.peer))} `) : null,
          time ? el("time", { datetime: time }, formatListTime(time)) : null,
        ),
        el(
          "span",
          { class: "conversation-bottom" },
          preview,
          unread
            ? el(
                "span",
                { class: "badge" },
                el("span", { "aria-hidden": "true" }, unread > 99 ? "99+" : String(unread)),
                el("span", { class: "visually-hidden" }, interpolate(gettext("%(count)s unread"), { count: unread })),
              )
            : null,
        ),
      ),
    ),
  );
}

function groupBadge(conversation) {
  const initial = Array.from(conversation.title || "#")[0];
  return el("span", { class: "avatar-wrap" }, el("span", { class: "avatar group-avatar", "aria-hidden": "true" }, initial));
}

function renderConversations() {
  const list = byId("conversation-list");
  const conversations = store.conversationsByActivity();
  const focusedId = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.conversation : undefined;
  list.replaceChildren(...conversations.map(conversationItem));
  if (focusedId) {
    const again = list.querySelector(`[data-conversation="${CSS.escape(focusedId)}"]`);
    if (again) again.focus();
  }
  byId("conversations-empty").hidden = conversations.length > 0;
}

// --- Friend requests ---------------------------------------------------------------------------------

function renderRequests() {
  const section = byId("requests-section");
  const incoming = byId("incoming-list");
  const outgoing = byId("outgoing-list");
  section.hidden = !state.incoming.length && !state.outgoing.length;
  incoming.replaceChildren(
    ...state.incoming.map((request) => {
      const answer = (verb) => async (event) => {
        event.currentTarget.disabled = true;
        try {
          await post(`friends/requests/${request.id}/${verb}`);
          store.removeRequest(request.id);
          if (verb === "accept") await actions.refreshPeople();
        } catch (error) {
          actions.notify(error.message);
          store.emit("requests");
        }
      };
      return el(
        "li",
        { class: "request" },
        avatar(request.from.number),
        el(
          "div",
          { class: "request-text" },
          el("strong", {}, request.from.display_name),
          " ",
          el("small", { class: "muted" }, `#${request.from.number}`),
          request.message ? el("q", { class: "request-message" }, request.message) : null,
          el(
            "div",
            { class: "request-actions" },
            el("button", { type: "button", class: "small", onclick: answer("accept") }, gettext("Accept")),
            el("button", { type: "button", class: "small secondary", onclick: answer("decline") }, gettext("Decline")),
          ),
        ),
      );
    }),
  );
  outgoing.replaceChildren(
    ...state.outgoing.map((request) => el("li", { class: "muted" }, interpolate(gettext("Waiting for %(name)s"), { name: request.to.display_name }), " ", el("small", {}, `#${request.to.number}`))),
  );
  incoming.hidden = !state.incoming.length;
  byId("outgoing-heading").hidden = !state.outgoing.length;
}

// --- Friends ----------------------------------------------------------------------------------------

function renderFriends() {
  const container = byId("friend-groups");
  const groups = new Map();
  const friends = [...state.friends.values()].sort((a, b) => a.group.localeCompare(b.group) || a.user.display_name.localeCompare(b.user.display_name));
  for (const friend of friends) {
    if (!groups.has(friend.group)) groups.set(friend.group, []);
    groups.get(friend.group).push(friend);
  }
  const nodes = [];
  let index = 0;
  for (const [group, members] of groups) {
    index += 1;
    const headingId = `friend-group-${index}`;
    const online = members.filter((friend) => store.presenceOf(friend.user.number) !== "offline").length;
    nodes.push(
      el(
        "li",
        { class: "friend-group" },
        el("h3", { id: headingId }, group, " ", el("small", { class: "muted", "aria-hidden": "true" }, `${online}/${members.length}`)),
        el(
          "ul",
          { class: "friend-list" },
          members.map((friend) => {
            const presence = store.presenceOf(friend.user.number);
            return el(
              "li",
              {},
              el(
                "button",
                {
                  type: "button",
                  class: "friend-item",
                  "aria-label": interpolate(gettext("Chat with %(name)s"), { name: friend.user.display_name }),
                  onclick: () => {
                    actions.openDirect(friend.user.number);
                    store.emit("show-pane");
                  },
                },
                avatar(friend.user.number, { presence: true, spoken: false }),
                el(
                  "span",
                  { class: "friend-text" },
                  el("span", { class: "friend-name" }, friend.user.display_name),
                  friend.user.signature ? el("small", { class: "muted signature" }, friend.user.signature) : null,
                ),
              ),
              el("span", { class: `presence-text ${presence}` }, presenceLabel(presence)),
            );
          }),
        ),
      ),
    );
  }
  reconcile(container, nodes);
  const empty = byId("friends-empty");
  empty.hidden = nodes.length > 0;
  empty.textContent = interpolate(gettext("No friends yet. Share your number: %(number)s."), { number: state.me.number });
}

// --- People search ----------------------------------------------------------------------------------

function mountSearch() {
  const form = byId("people-search");
  const input = byId("people-query");
  const results = byId("search-results");
  const showResults = (items, note) => {
    results.hidden = false;
    const close = el("button", { type: "button", class: "link small", onclick: () => { results.hidden = true; input.value = ""; input.focus(); } }, gettext("Clear search"));
    results.replaceChildren(el("div", { class: "search-head" }, el("span", { class: "muted", role: "status" }, note), close), el("ul", { class: "search-list", "aria-label": gettext("Search results") }, items));
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = input.value.trim();
    if (!query) return;
    try {
      const page = await get(`users?q=${encodeURIComponent(query)}&limit=20`);
      const people = page.results;
      people.forEach(store.rememberUser);
      showResults(people.map(personResult), people.length ? interpolate(ngettext("%(count)s person found", "%(count)s people found", people.length), { count: people.length }) : gettext("Nobody found."));
    } catch (error) {
      showResults([], error.message);
    }
  });
}

function personResult(user) {
  const isMe = user.number === state.me.number;
  const isFriend = state.friends.has(user.number);
  const sent = state.outgoing.some((request) => request.to.number === user.number);
  const received = state.incoming.some((request) => request.from.number === user.number);
  const action = el("span", { class: "person-action" });
  if (isMe) action.append(el("span", { class: "muted" }, gettext("(you)")));
  else if (isFriend) {
    action.append(el("button", { type: "button", class: "small", onclick: () => { actions.openDirect(user.number); store.emit("show-pane"); } }, gettext("Message")));
  } else if (sent) action.append(el("span", { class: "muted" }, gettext("Request sent")));
  else if (received) action.append(el("span", { class: "muted" }, gettext("Wants to be your friend")));
  else {
    const button = el(
      "button",
      {
        type: "button",
        class: "small",
        onclick: async () => {
          button.disabled = true;
          try {
            const request = await post("friends/requests", { to: user.number });
            store.addRequest(request);
            action.replaceChildren(el("span", { class: "muted" }, gettext("Request sent")));
          } catch (error) {
            button.disabled = false;
            action.append(el("small", { class: "error" }, " ", error.message));
          }
        },
      },
      gettext("Add friend"),
    );
    action.append(button);
  }
  return el("li", { class: "person" }, avatar(user.number), el("span", { class: "person-name" }, user.display_name, " ", el("small", { class: "muted" }, `#${user.number}`)), action);
}

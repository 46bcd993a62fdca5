// Small pieces several views draw: avatars with a presence dot, presence names, previews.
import { el } from "../dom.js";
import { gettext, interpolate } from "../i18n.js";
import { state, presenceOf } from "../store.js";

let defaultAvatar = "/avatars/default/{number}.svg";

export function setDefaultAvatar(template) {
  defaultAvatar = template;
}

export function avatarUrl(number) {
  const person = state.people.get(number);
  if (person && person.avatar_url) return person.avatar_url;
  return defaultAvatar.replace("{number}", String(number));
}

export function displayName(number, fallback = "") {
  const person = state.people.get(number);
  return (person && person.display_name) || fallback || `#${number}`;
}

export function presenceLabel(presence) {
  return {
    online: gettext("Online"),
    away: gettext("Away"),
    busy: gettext("Busy"),
    invisible: gettext("Invisible"),
    offline: gettext("Offline"),
  }[presence] || gettext("Offline");
}

// Lower-case presence for screen readers beside a name ("online", "away", "busy", "offline").
export function presenceWord(presence) {
  return {
    online: gettext("online"),
    away: gettext("away"),
    busy: gettext("busy"),
    invisible: gettext("invisible"),
  }[presence] || gettext("offline");
}

// An avatar image (decorative: the name is always next to it) with an optional presence dot;
// `spoken` adds the presence as text for screen readers (off where the caller says it itself).
export function avatar(number, { presence = false, spoken = true, size = "" } = {}) {
  const wrapper = el("span", { class: `avatar-wrap ${size}` }, el("img", { class: "avatar", src: avatarUrl(number), alt: "", loading: "lazy" }));
  if (presence) {
    const value = presenceOf(number);
    wrapper.append(el("span", { class: `presence-dot ${value}`, title: presenceLabel(value), "aria-hidden": "true" }));
    if (spoken) wrapper.append(el("span", { class: "visually-hidden" }, presenceWord(value)));
  }
  return wrapper;
}

// The one-line description of a message for previews and notices.
export function messageSummary(message) {
  if (message.recalled) return gettext("Message recalled");
  switch (message.kind) {
    case "text":
      return message.body;
    case "sticker":
      return gettext("[Sticker]");
    case "gift":
      return gettext("[Gift]");
    case "red_packet":
      return gettext("[Red packet]");
    case "system":
      return message.body;
    default:
      return message.body || "";
  }
}

export function previewOf(conversation) {
  const message = conversation.last_message;
  if (!message) return gettext("No messages yet");
  const summary = messageSummary(message);
  if (!message.sender || message.kind === "system") return summary;
  if (state.me && message.sender.number === state.me.number) return interpolate(gettext("You: %(text)s"), { text: summary });
  if (conversation.kind === "group") return interpolate(gettext("%(name)s: %(text)s"), { name: message.sender.display_name, text: summary });
  return summary;
}

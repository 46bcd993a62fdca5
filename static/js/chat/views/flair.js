// What the store adds to a message's look: the sender's `sender_style` (server-added, CONTRACT
// extension: {"bubble": "#rrggbb"|null, "name_color": "#rrggbb"|null, "vip": bool}) as the bubble's
// colour (with a text colour that stays readable on it), the name's colour and a "VIP" badge; and
// the bubble kinds (a sticker has no bubble, a gift is a card). Colours are used only when they are
// exactly #rrggbb; a message without sender_style looks as before.
import { el } from "../dom.js";
import { gettext } from "../i18n.js";

const HEX = /^#[0-9a-fA-F]{6}$/;

function colour(value) {
  return typeof value === "string" && HEX.test(value) ? value : null;
}

function styleOf(message) {
  const style = message.sender_style;
  return style && typeof style === "object" ? style : {};
}

// WCAG relative luminance of #rrggbb.
function luminance(hex) {
  const channel = (offset) => {
    const value = parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

// Dark text or white, whichever contrasts more with `background`.
export function readableOn(background) {
  const light = luminance(background);
  const dark = 0.0144; // #1f2933, the page's text colour
  const withDark = (light + 0.05) / (dark + 0.05);
  const withWhite = 1.05 / (light + 0.05);
  return withDark >= withWhite ? "#1f2933" : "#ffffff";
}

// The sender's name above their bubble, in their name colour, with the VIP badge.
export function authorLine(message) {
  const style = styleOf(message);
  const line = el("div", { class: "msg-author" }, el("span", { class: "msg-author-name" }, message.sender.display_name));
  const nameColour = colour(style.name_color);
  if (nameColour) {
    line.classList.add("coloured");
    line.firstChild.style.color = nameColour;
  }
  if (style.vip === true) line.append(" ", el("span", { class: "vip-badge", title: gettext("VIP member") }, gettext("VIP")));
  return line;
}

export function decorateBubble(bubble, message) {
  if (message.recalled) return bubble;
  if (message.kind === "sticker") bubble.classList.add("bubble-sticker");
  if (message.kind === "gift") bubble.classList.add("bubble-gift");
  const background = colour(styleOf(message).bubble);
  if (background && message.kind !== "sticker") {
    bubble.classList.add("styled");
    bubble.style.setProperty("--bubble-bg", background);
    bubble.style.setProperty("--bubble-fg", readableOn(background));
  }
  return bubble;
}

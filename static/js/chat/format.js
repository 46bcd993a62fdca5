// Dates and times in the reader's time zone and language.
import { gettext } from "./i18n.js";

const locale = document.documentElement.lang || undefined;
const timeFormat = new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(locale, { weekday: "long", month: "long", day: "numeric" });
const dayWithYearFormat = new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", day: "numeric" });
const shortDayFormat = new Intl.DateTimeFormat(locale, { month: "numeric", day: "numeric" });
const fullFormat = new Intl.DateTimeFormat(locale, { dateStyle: "full", timeStyle: "short" });

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

export function dayKey(iso) {
  const date = new Date(iso);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

export function formatTime(iso) {
  return timeFormat.format(new Date(iso));
}

export function formatFull(iso) {
  return fullFormat.format(new Date(iso));
}

// "Today", "Yesterday", or the date (with the year when it is not this year).
export function formatDay(iso) {
  const date = new Date(iso);
  const days = Math.round((startOfDay(new Date()) - startOfDay(date)) / 86400000);
  if (days === 0) return gettext("Today");
  if (days === 1) return gettext("Yesterday");
  if (date.getFullYear() === new Date().getFullYear()) return dayFormat.format(date);
  return dayWithYearFormat.format(date);
}

// For the conversation list: the time today, else a short date.
export function formatListTime(iso) {
  const date = new Date(iso);
  if (startOfDay(new Date()) === startOfDay(date)) return timeFormat.format(date);
  return shortDayFormat.format(date);
}

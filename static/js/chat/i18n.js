// Translations from Django's JavaScript catalog (/jsi18n/, loaded by base.html before the modules).
// Without it every string stays as written (English).

export function gettext(text) {
  return typeof window.gettext === "function" ? window.gettext(text) : text;
}

export function ngettext(singular, plural, count) {
  if (typeof window.ngettext === "function") return window.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

// interpolate("%(name)s is typing…", {name}) — named placeholders only, so translators may reorder.
export function interpolate(format, values) {
  if (typeof window.interpolate === "function") return window.interpolate(format, values, true);
  return format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));
}

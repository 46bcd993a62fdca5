// Building elements from data. Text from the server (names, titles, message bodies) only ever
// becomes text nodes or attribute values: nothing here parses HTML.

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "type", "id", "htmlFor", "tabIndex", "title"]);

// el("button", {class: "x", "aria-label": "…", onclick: fn}, "text", childNode, …)
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") {
      for (const [key, data] of Object.entries(value)) if (data !== undefined && data !== null) node.dataset[key] = data;
    }
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (PROPERTIES.has(name)) node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// Make `parent`'s children exactly `nodes`, moving only what is out of place, so that focused or
// unchanged nodes stay where they are (keeps focus, selection and scroll anchors).
export function reconcile(parent, nodes) {
  let cursor = parent.firstChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextSibling;
    } else {
      parent.insertBefore(node, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
}

export function byId(id) {
  return document.getElementById(id);
}

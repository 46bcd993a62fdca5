// The HTTP API (/api/v1/) with the browser session: JSON in and out, the CSRF token on unsafe
// methods, and the contract's error body ({code, detail, fields?}) thrown as an ApiError.
import { gettext } from "./i18n.js";

let base = "/api/v1/";
let fallbackToken = "";

export function configureApi({ root, csrfToken }) {
  base = root;
  fallbackToken = csrfToken || "";
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : fallbackToken;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || gettext("Something went wrong. Please try again."));
    this.status = status;
    this.code = (body && body.code) || "error";
    this.fields = (body && body.fields) || null;
  }
}

// `extraHeaders`: e.g. {"Idempotency-Key": …} for the money-moving POSTs (CONTRACT section 2).
export async function api(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(base + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { code: "network", detail: gettext("Cannot reach Huddle. Check your connection.") });
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent("huddle:logged-out"));
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

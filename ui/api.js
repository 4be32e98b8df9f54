// The only way the UI talks to the server: the public JSON API with the key the user pasted,
// kept in sessionStorage (gone when the tab closes). A 401 signs the user out.

const KEY_NAME = "datasets-api-key";

export const session = {
  get key() {
    return sessionStorage.getItem(KEY_NAME);
  },
  signIn(key) {
    sessionStorage.setItem(KEY_NAME, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY_NAME);
  },
};

/** An answer other than 2xx, with the API's own code and message. */
export class ApiError extends Error {
  constructor(status, code, message, body = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** `?a=1&b=x` from an object, skipping empty values. */
export function queryString(query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The path of a dataset route with its id encoded. */
export function datasetPath(id, rest = "") {
  return `/api/datasets/${encodeURIComponent(id)}${rest}`;
}

function authHeaders(key = session.key) {
  return { Authorization: `Bearer ${key ?? ""}`, Accept: "application/json" };
}

/** Why the last sign-out happened, for the sign-in page (null after a deliberate one). */
export const signOutReason = { text: null };

/** Forgets a key the server refused and tells the router (once, however many calls fail). */
function signedOut() {
  if (!session.key) return;
  signOutReason.text = "The server did not accept the API key (401): sign in again.";
  session.signOut();
  window.dispatchEvent(new Event("datasets-api:signed-out"));
}

function errorFrom(status, statusText, text) {
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const code = body?.error?.code ?? `http_${status}`;
  const message = body?.error?.message ?? `The server answered ${status} ${statusText}`.trim();
  return new ApiError(status, code, message, body);
}

/**
 * Calls the API and returns its JSON, or throws ApiError. `key` checks another key than the
 * session's (a 401 then signs nobody out).
 */
export async function api(path, { method = "GET", query, json, key } = {}) {
  const headers = authHeaders(key ?? session.key);
  const init = { method, headers };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path + queryString(query), init);
  } catch (error) {
    throw new ApiError(0, "network", `The server could not be reached (${error.message}).`);
  }
  const text = await response.text();
  if (response.status === 401 && key === undefined) signedOut();
  if (!response.ok) throw errorFrom(response.status, response.statusText, text);
  return text ? JSON.parse(text) : null;
}

/**
 * Sends a multipart form with the browser's upload progress: `onProgress(loaded, total)` while
 * the body is sent, `onSent()` once it is all sent (the server then reads and checks the file).
 * Resolves with the JSON answer; rejects with ApiError.
 */
export function upload(path, form, { onProgress, onSent } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded, event.total);
    });
    xhr.upload.addEventListener("load", () => onSent && onSent());
    xhr.addEventListener("load", () => {
      if (xhr.status === 401) {
        signedOut();
        reject(errorFrom(401, xhr.statusText, xhr.responseText));
      } else if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError(xhr.status, "bad_answer", "The server's answer was not JSON."));
        }
      } else {
        reject(errorFrom(xhr.status, xhr.statusText, xhr.responseText));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", "The upload could not reach the server.")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "The upload was cancelled.")));
    xhr.send(form);
  });
}

/** The file name of a Content-Disposition header, if it names one. */
function fileNameOf(disposition) {
  if (!disposition) return null;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]);
    } catch {
      return null;
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"/i.exec(disposition) ?? /filename\s*=\s*([^;]+)/i.exec(disposition);
  return plain ? plain[1].trim() : null;
}

/**
 * Downloads a file that needs the key (a link cannot send it): fetched into memory, then
 * saved through a temporary object URL under the server's file name.
 */
export async function download(path, query, fallbackName) {
  let response;
  try {
    response = await fetch(path + queryString(query), { headers: authHeaders() });
  } catch (error) {
    throw new ApiError(0, "network", `The server could not be reached (${error.message}).`);
  }
  if (!response.ok) {
    const text = await response.text();
    if (response.status === 401) signedOut();
    throw errorFrom(response.status, response.statusText, text);
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileNameOf(response.headers.get("Content-Disposition")) ?? fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

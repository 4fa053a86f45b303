// The API client: the bearer token the user signed in with (kept in this
// tab's sessionStorage only, so closing the tab signs out), every call
// with it, and the API's JSON error bodies turned into ApiError.

const KEY = 'beckon.token';

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(t) { sessionStorage.setItem(KEY, t); }
export function clearToken() { sessionStorage.removeItem(KEY); }

// ApiError is a failed call: the HTTP status and the API's error body
// (code, message, and for invalid input the fields with their reasons).
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.fields = e.fields || [];
  }
  // describe says what went wrong in words for the page.
  describe() {
    switch (this.status) {
      case 401: return `Not signed in: ${this.message}. Sign in again with a valid token.`;
      case 403: return `Not allowed: ${this.message}.`;
      case 404: return `Not found: ${this.message}.`;
      case 409: return `Refused: ${this.message}.`;
      case 503: return `Not available yet: ${this.message}. It will be retried.`;
      case 0: return `The API did not answer: ${this.message}.`;
    }
    return `${this.status}: ${this.message}`;
  }
}

// onUnauthorized is called on any 401, to send the user to the sign-in
// screen with the reason.
let onUnauthorized = () => {};
export function whenUnauthorized(f) { onUnauthorized = f; }

// call sends one request to the API and returns its JSON body (null for
// 204), or throws ApiError.
export async function call(method, path, { body, contentType } = {}) {
  const headers = { 'Authorization': 'Bearer ' + token(), 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = contentType || 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers, body, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, { error: { message: String(err.message || err) } });
  }
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (!resp.ok) {
    const e = new ApiError(resp.status, data);
    if (resp.status === 401) onUnauthorized(e);
    throw e;
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body, contentType) => call('POST', path, { body, contentType });
export const put = (path, body, contentType) => call('PUT', path, { body, contentType });

export const enc = encodeURIComponent;

// Poller runs tasks every few seconds while the page shows them, and
// pauses while the tab is hidden (a hidden tab costs the API nothing).
export class Poller {
  constructor() { this.tasks = []; this.stopped = false; }
  every(ms, f) {
    const t = { ms, f, timer: null, running: false };
    this.tasks.push(t);
    this.#schedule(t, ms);
  }
  #schedule(t, delay) {
    if (this.stopped) return;
    clearTimeout(t.timer);
    t.timer = setTimeout(() => this.#run(t), delay);
  }
  async #run(t) {
    if (!document.hidden && !t.running && !this.stopped) {
      t.running = true;
      try { await t.f(); } catch (err) { console.warn('poll', err); }
      t.running = false;
    }
    this.#schedule(t, t.ms);
  }
  // resume runs every task at once, when the tab is shown again.
  resume() { for (const t of this.tasks) this.#schedule(t, 0); }
  stop() {
    this.stopped = true;
    for (const t of this.tasks) clearTimeout(t.timer);
  }
}

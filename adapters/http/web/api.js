// api.js: the REST client of /api/v1 and the session behind it.
//
// Web sign-ins keep the refresh token in a cookie the server sets
// (HttpOnly, SameSite=Strict, path /api/v1/auth): page scripts never see
// it, so an injected script could not steal a long-lived credential, and
// every tab of the browser, and the browser after a restart, shares it.
// The short-lived access token lives in this tab's memory only. On load a
// tab that was signed in (a non-secret marker in localStorage) asks
// /auth/refresh for an access token with the cookie.
//
// A refresh token is single-use and reusing a rotated one revokes the whole
// session, so refreshes are serialized across tabs with a Web Lock: the
// next tab refreshes with the cookie the previous one got back. Signing out
// in one tab signs out the others (BroadcastChannel).

import { t } from "./i18n.js";

const markerKey = "fechatter.signedIn";
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("fechatter.session") : null;

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status; // 0 when the server could not be reached
    this.code = code;
    this.retryAfter = retryAfter; // seconds, with rate_limited
  }
}

export class Api {
  // onSessionEnd(reason) is called when the session is lost (refresh
  // refused, sign-out elsewhere); the page goes back to sign-in.
  constructor({ onSessionEnd }) {
    this.onSessionEnd = onSessionEnd;
    this.refreshing = null;
    this.timer = 0;
    this.session = null;
    channel?.addEventListener("message", (ev) => {
      if (ev.data === "signed-out") this.end(t("You were signed out in another tab."));
    });
  }

  get signedIn() {
    return this.session !== null;
  }

  // resume picks up the browser's session (another tab's, or one from
  // before a restart) from the cookie; false when there is none.
  async resume() {
    if (localStorage.getItem(markerKey) !== "1") return false;
    try {
      this.begin(await this.cookieRefresh());
      return true;
    } catch (e) {
      if (e.status === 401 || e.status === 400) localStorage.removeItem(markerKey);
      return false;
    }
  }

  // cookieRefresh rotates the cookie's refresh token, one tab at a time.
  cookieRefresh() {
    const run = () => this.request("POST", "/auth/refresh", {}, { auth: false });
    return navigator.locks ? navigator.locks.request("fechatter.refresh", run) : run();
  }

  async signUp(body) {
    return this.begin(await this.request("POST", "/auth/signup", body, { auth: false }));
  }

  async signIn(email, password) {
    return this.begin(await this.request("POST", "/auth/signin", { email, password }, { auth: false }));
  }

  // begin keeps the answer of signup, signin or refresh as the session.
  begin(r) {
    const prev = this.session ?? {};
    this.session = {
      access_token: r.access_token,
      expires_at: Date.now() + r.expires_in * 1000,
      ttl_ms: r.expires_in * 1000,
      user: r.user ?? prev.user,
      workspace: r.workspace ?? prev.workspace,
    };
    localStorage.setItem(markerKey, "1");
    this.scheduleRefresh();
    return r;
  }

  // scheduleRefresh refreshes a minute before expiry (or at 80% of a short
  // lifetime), so a request rarely meets an expired token.
  scheduleRefresh() {
    clearTimeout(this.timer);
    if (!this.session) return;
    const lead = Math.min(60_000, (this.session.ttl_ms ?? 60_000) * 0.2);
    const delay = Math.max(1000, this.session.expires_at - Date.now() - lead);
    this.timer = setTimeout(() => this.refresh().catch(() => {}), delay);
  }

  // refresh rotates the token pair; concurrent callers share one request.
  refresh() {
    if (this.refreshing) return this.refreshing;
    const s = this.session;
    if (!s) return Promise.reject(new ApiError(401, "unauthenticated", "signed out"));
    this.refreshing = (async () => {
      try {
        const r = await this.cookieRefresh();
        if (this.session !== s) return; // signed out meanwhile
        this.begin(r);
      } catch (e) {
        if (this.session !== s) return;
        if (e.status === 401) {
          this.end(t("Your session has ended. Please sign in again."));
        } else {
          // Server unreachable: try again soon, the token may still be good.
          clearTimeout(this.timer);
          this.timer = setTimeout(() => this.refresh().catch(() => {}), 5000);
        }
        throw e;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  // accessToken returns a token good for at least 30 more seconds.
  async accessToken() {
    if (!this.session) throw new ApiError(401, "unauthenticated", "signed out");
    if (this.session.expires_at - Date.now() < 30_000) await this.refresh();
    if (!this.session) throw new ApiError(401, "unauthenticated", "signed out");
    return this.session.access_token;
  }

  // logout revokes the session on the server (best effort) and forgets it.
  async logout() {
    const s = this.session;
    if (!s) return;
    try {
      await this.request("POST", "/auth/logout", {}, { retry: false });
    } catch {
      // Signed out locally all the same.
    }
    this.forget();
    channel?.postMessage("signed-out");
  }

  forget() {
    clearTimeout(this.timer);
    this.session = null;
    localStorage.removeItem(markerKey);
  }

  end(reason) {
    if (!this.session) return;
    this.forget();
    this.onSessionEnd(reason);
  }

  // upload sends one file (multipart, the part "file") and answers its
  // File. It goes by XMLHttpRequest, the one way to hear an upload's
  // progress: onProgress(fraction) as the bytes leave. A 401 refreshes the
  // token and sends it once more, as request does.
  async upload(file, onProgress = () => {}, retry = true) {
    const form = new FormData();
    form.append("file", file, file.name || "pasted");
    const token = await this.accessToken();
    const x = await new Promise((resolve, reject) => {
      const req = new XMLHttpRequest();
      req.open("POST", "/api/v1/files");
      req.setRequestHeader("Authorization", "Bearer " + token);
      req.setRequestHeader("X-Fechatter-Session", "cookie");
      req.upload.addEventListener("progress", (ev) => {
        if (ev.lengthComputable) onProgress(ev.loaded / ev.total);
      });
      req.addEventListener("load", () => resolve(req));
      req.addEventListener("error", () => reject(new ApiError(0, "unavailable", t("The server cannot be reached."))));
      req.send(form);
    });
    if (x.status === 401 && retry && this.session) {
      await this.refresh();
      return this.upload(file, onProgress, false);
    }
    return answer(x.status, x.responseText, x.getResponseHeader("Retry-After"));
  }

  // request calls the API; a 401 on an authenticated call refreshes the
  // token once and tries again. Errors are ApiError.
  async request(method, path, body, { auth = true, retry = true } = {}) {
    const headers = { "X-Fechatter-Session": "cookie" };
    const form = body instanceof FormData;
    if (body !== undefined && !form) headers["Content-Type"] = "application/json";
    if (auth) headers.Authorization = "Bearer " + (await this.accessToken());
    let res;
    try {
      res = await fetch("/api/v1" + path, {
        method,
        headers,
        body: body === undefined || form ? body : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "unavailable", t("The server cannot be reached."));
    }
    if (res.status === 401 && auth && retry && this.session) {
      await this.refresh();
      return this.request(method, path, body, { auth, retry: false });
    }
    return answer(res.status, await res.text(), res.headers.get("Retry-After"));
  }
}

// answer is the JSON of a response, or its error as an ApiError.
function answer(status, text, retryAfter) {
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (status < 200 || status > 299) {
    if (status === 413 && !data?.error) throw new ApiError(413, "payload_too_large", t("The file is too large."));
    const e = data?.error ?? {};
    throw new ApiError(status, e.code ?? "internal", e.message ?? `HTTP ${status}`, Number(retryAfter) || undefined);
  }
  return data;
}

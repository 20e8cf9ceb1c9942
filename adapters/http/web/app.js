// app.js: the Fechatter web client.
//
// State lives in plain maps below; each change calls a render function for
// the part it touches (chat list, open chat, typing line, ...). Messages are
// kept per chat by seq, so every copy of a message (REST page, live event,
// ack, catch-up) lands in one place: deduplication by (chat_id, seq).
// User content reaches the page only as text.

import { Api, ApiError } from "./api.js";
import { Socket } from "./socket.js";
import { h, highlightNodes, shortTime, fullTime, ago, uuid, dayLabel, dayKey } from "./dom.js";
import { richNodes, mentionsName, plainText, encodeMentions } from "./rich.js";
import { t, lang, locale, languages, chooseLanguage, translatePage } from "./i18n.js";
import { MentionComplete } from "./complete.js";
import { reactionEmoji } from "./emoji.js";

const $ = (id) => document.getElementById(id);

const pageSize = 50;
const maxChars = 4000; // API.md: content is 1..4000 characters
const searchPage = 50;
const listFmt = new Intl.ListFormat(locale, { type: "conjunction" });
const typingEvery = 3000; // re-send typing while typing (API.md: about every 3 s)
const ackTimeout = 10_000; // then the send is repeated over REST, same key
const maxAttachments = 10; // API.md: attachment_ids 1..10

const api = new Api({ onSessionEnd: (reason) => signedOut(reason) });
let socket = null;
let state = blankState();

function blankState() {
  return {
    me: null,
    workspace: null,
    users: new Map(), // id -> User
    chats: new Map(), // id -> ChatSummary
    open: 0, // the chat on screen
    stores: new Map(), // chat id -> message store (see store())
    members: new Map(), // chat id -> Map(user id -> Member)
    presence: new Map(), // user id -> Presence
    typing: new Map(), // chat id -> Map(user id -> expires at, ms)
    pending: new Map(), // idempotency key -> outgoing message
    readSent: new Map(), // chat id -> last seq sent as read
    deliveredTimers: new Map(),
    myTyping: null, // {chatId, at}: the typing start last sent
    editing: 0, // seq of the message being edited in the open chat
    unreadFrom: 0, // the open chat's first unread seq when it was opened
    replyTo: null, // the message the composer replies to
    unseenBelow: 0, // messages that arrived while scrolled up
    search: null, // {q, offset, total}
    presenceRoute: true, // false once GET /presence answered 404
    uploads: [], // the composer's attachments: {key, name, size, status, file, error}
    thread: null, // the open thread: {chatId, root, replies: Map(seq -> Message), hasMore, loading}
    mentions: null, // the Mentions view: {items: [Message], hasMore, loading}
    timers: [],
  };
}

// ---------------------------------------------------------------- start

document.addEventListener("DOMContentLoaded", () => {
  translatePage();
  wireLanguage();
  wireAuth();
  wireChat();
  wireShell();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  api.resume().then((ok) => (ok ? startSession() : showAuth("")));
});

function showAuth(notice) {
  $("chat-view").hidden = true;
  $("auth-view").hidden = false;
  $("auth-notice").textContent = notice ?? "";
  setBadge(0);
  const r = routeOf(location.pathname);
  if (r.join) {
    // An invite link: the code and the workspace are filled in.
    $("su-invite").value = r.join;
    $("su-workspace").value = new URLSearchParams(location.search).get("workspace") ?? "";
    $("auth-notice").textContent = notice || t("You are invited. Create your account to join.");
    $("su-name").focus();
  } else {
    $("si-email").focus();
  }
}

function wireLanguage() {
  for (const sel of document.querySelectorAll(".lang-select")) {
    sel.replaceChildren(...languages.map((l) => h("option", { value: l.code, lang: l.code }, l.name)));
    sel.value = lang;
    sel.addEventListener("change", () => {
      chooseLanguage(sel.value);
      location.reload(); // the session survives a reload (the cookie)
    });
  }
}

// ---------------------------------------------------------------- routes
//
// /                              the chat list
// /chats/<id>                    a chat
// /chats/<id>/messages/<seq>     a message in its chat, scrolled to and highlighted
// /join/<code>?workspace=<name>  an invite link (the sign-up form, filled in)

function routeOf(path) {
  let m = /^\/chats\/(\d{1,18})(?:\/messages\/(\d{1,18}))?\/?$/.exec(path);
  if (m) return { chat: Number(m[1]), seq: m[2] ? Number(m[2]) : 0 };
  m = /^\/join\/([A-Za-z0-9_-]{1,128})\/?$/.exec(path);
  if (m) return { join: m[1] };
  return {};
}

// go puts path in the address bar: a new history entry, or replacing this one.
function go(path, { replace = false } = {}) {
  if (location.pathname === path && !location.search) return;
  const st = { fechatter: true, fromList: !replace && location.pathname === "/" };
  if (replace) history.replaceState(history.state, "", path);
  else history.pushState(st, "", path);
}

// applyRoute shows what the address names (after sign-in, Back and Forward).
function applyRoute() {
  if (!api.signedIn || !state.me) return;
  const r = routeOf(location.pathname);
  if (r.join) {
    toast(t("You are already signed in."));
    go("/", { replace: true });
    closeChat();
  } else if (r.chat) {
    if (!state.chats.has(r.chat)) {
      toast(t("That chat is not in your list."));
      go("/", { replace: true });
      closeChat();
    } else if (r.chat !== state.open || r.seq) {
      openChat(r.chat, { aroundSeq: r.seq, push: false });
    }
  } else if (location.pathname !== "/") {
    go("/", { replace: true });
    closeChat();
  } else {
    closeChat();
  }
}

// closeChat goes back to the list (the whole screen on a phone).
function closeChat() {
  if (!state.open) return;
  const id = state.open;
  stopTyping();
  state.open = 0;
  openSeq++;
  setReply(null);
  closeThread(false);
  showChatPane(false);
  renderChatList();
  $("chat-list").querySelector(`[data-chat-id="${id}"]`)?.focus();
}

function wireShell() {
  window.addEventListener("popstate", applyRoute);
  $("back-btn").addEventListener("click", () => {
    if (history.state?.fromList) history.back(); // the list is the entry before
    else {
      go("/");
      closeChat();
    }
  });
  $("skip-link").addEventListener("click", (ev) => {
    ev.preventDefault();
    if (state.open) $("composer-input").focus();
    else ($("chat-list").querySelector("button") ?? $("new-chat-btn")).focus();
  });
  const menu = $("menu-btn");
  menu.addEventListener("click", () => {
    const open = menu.getAttribute("aria-expanded") !== "true";
    menu.setAttribute("aria-expanded", String(open));
    $("account").classList.toggle("open", open);
    if (open) $("account").querySelector("button:not([hidden])")?.focus();
  });
  $("account").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && $("account").classList.contains("open")) {
      menu.click();
      menu.focus();
    }
  });
  // Every dialog gives focus back to where it was when it closes.
  for (const d of document.querySelectorAll("dialog")) {
    let from = null;
    new MutationObserver(() => {
      if (d.open) from = document.activeElement;
    }).observe(d, { attributes: true, attributeFilter: ["open"] });
    d.addEventListener("close", () => {
      if (from?.isConnected && !from.closest("[hidden]")) from.focus();
      from = null;
    });
  }
  $("notify-btn").addEventListener("click", async () => {
    await Notification.requestPermission().catch(() => "denied");
    renderNotifyButton();
  });
}

// confirmDialog asks in an in-app dialog; it resolves to true for OK.
function confirmDialog(text, ok) {
  const d = $("confirm-dialog");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  d.returnValue = "";
  d.showModal();
  $("confirm-ok").focus();
  return new Promise((resolve) => d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true }));
}

function signedOut(reason) {
  stopSession();
  showAuth(reason);
}

function stopSession() {
  socket?.stop();
  socket = null;
  for (const t of state.timers) clearInterval(t);
  for (const p of state.pending.values()) clearTimeout(p.timer);
  for (const t of state.deliveredTimers.values()) clearTimeout(t);
  state = blankState();
  $("chat-list").replaceChildren();
  chatListSig = "";
  $("messages").replaceChildren();
  $("pending-list").replaceChildren();
  $("search-results").replaceChildren();
  $("search-panel").hidden = true;
  $("mentions-panel").hidden = true;
  $("mentions-list").replaceChildren();
  $("chats-panel").hidden = false;
  $("thread-panel").hidden = true;
  $("chat-view").classList.remove("with-thread");
  renderUploads();
  showChatPane(false);
}

async function startSession() {
  $("auth-view").hidden = true;
  $("chat-view").hidden = false;
  const s = api.session;
  state.me = s.user;
  state.workspace = s.workspace;
  renderIdentity();
  try {
    const [me, ws] = await Promise.all([api.request("GET", "/users/me"), api.request("GET", "/workspace")]);
    state.me = me;
    state.workspace = ws;
    renderIdentity();
    await Promise.all([loadUsers(), loadChats()]);
  } catch (e) {
    if (api.signedIn) toast(errorText(e));
  }
  if (!api.signedIn || socket) return; // signed out meanwhile, or started twice
  socket = new Socket({
    token: async (attempt) => {
      // After a failed attempt, make sure the token is still accepted: a
      // 401 here refreshes it (or ends the session).
      if (attempt > 0) await api.request("GET", "/users/me");
      return api.accessToken();
    },
    onFrame,
    onState: renderConnection,
    onRevoked: () => api.end(t("You were signed out.")),
  });
  socket.start();
  state.timers.push(setInterval(tick, 1000));
  state.timers.push(setInterval(() => renderPresenceTexts(), 30_000));
  renderChatList();
  renderNotifyButton();
  applyRoute();
}

function renderIdentity() {
  $("me-name").textContent = state.me?.fullname ?? "";
  $("me-avatar").replaceChildren(state.me ? avatarEl(state.me.id) : "");
  $("workspace-name").textContent = state.workspace?.name ?? "";
  // Only owners and admins may invite (API.md); others see no button.
  $("invite-btn").hidden = !(state.me?.role === "owner" || state.me?.role === "admin");
}

// renderNotifyButton offers desktop notifications once, politely: a
// button the user presses, never a prompt on load.
function renderNotifyButton() {
  $("notify-row").hidden = !("Notification" in window) || Notification.permission !== "default";
}

// ---------------------------------------------------------------- auth

function wireAuth() {
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    submitting(form, async () => {
      await api.signIn($("si-email").value.trim(), $("si-password").value);
      form.reset();
      if (routeOf(location.pathname).join) go("/", { replace: true });
      await startSession();
    });
  });
  $("signup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    submitting(form, async () => {
      const body = {
        fullname: $("su-name").value.trim(),
        email: $("su-email").value.trim(),
        password: $("su-password").value,
        workspace: $("su-workspace").value.trim(),
      };
      const code = $("su-invite").value.trim();
      if (code) body.invite_code = code;
      await api.signUp(body);
      form.reset();
      if (routeOf(location.pathname).join) go("/", { replace: true }); // the invite is used
      await startSession();
    });
  });
  $("signout-btn").addEventListener("click", async () => {
    stopTyping();
    const out = api.logout();
    stopSession();
    await out;
    go("/", { replace: true });
    showAuth(t("You are signed out."));
  });
}

// submitting runs an action for a form: its submit button disabled
// meanwhile, its error line showing what went wrong.
async function submitting(form, action) {
  const err = form.querySelector(".error");
  const btn = form.querySelector("button[type=submit]");
  if (err) err.textContent = "";
  if (btn) btn.disabled = true;
  try {
    await action();
  } catch (e) {
    if (err) err.textContent = errorText(e);
    else toast(errorText(e));
  } finally {
    if (btn) btn.disabled = false;
  }
}

// errorText says what went wrong. The server's messages are English; in
// Chinese the common kinds get a translated sentence.
function errorText(e) {
  if (e instanceof ApiError) {
    const known = {
      unavailable: t("The server cannot be reached."),
      unauthenticated: t("Email or password is wrong, or the session has ended."),
      forbidden: t("You are not allowed to do that."),
      not_found: t("Not found."),
      conflict: e.message,
      rate_limited: e.retryAfter ? t("Too many requests: try again in {n} s.", { n: e.retryAfter }) : t("Too many requests: try again soon."),
      payload_too_large: t("The file is too large."),
    };
    if (lang !== "en" && known[e.code] && e.code !== "conflict") return known[e.code];
    if (e.code === "rate_limited" && e.retryAfter) return known.rate_limited;
    if (e.code === "unavailable") return known.unavailable;
    return e.message;
  }
  return String(e?.message ?? e);
}

let toastTimer = 0;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 5000);
}

// ---------------------------------------------------------------- data

async function loadUsers() {
  const r = await api.request("GET", "/users?limit=200");
  for (const u of r.users ?? []) putUser(u);
}

// putUser records a user. A picture link that names the same picture as
// the one known, and does not expire soon, is kept: pictures are not
// fetched again for a fresh signature alone.
function putUser(u) {
  const old = state.users.get(u.id);
  const keep = old?.avatar_url && u.avatar_url && sameFile(old.avatar_url, u.avatar_url) && !linkExpiring(old.avatar_url, 10 * 60_000);
  state.users.set(u.id, { ...old, ...u, avatar_url: keep ? old.avatar_url : u.avatar_url });
}

function sameFile(a, b) {
  return new URL(a, location.origin).pathname === new URL(b, location.origin).pathname;
}

let usersReload = 0;
function reloadUsersSoon() {
  clearTimeout(usersReload);
  usersReload = setTimeout(() => loadUsers().then(() => { renderChatList(); renderOpenChat(); renderThread(); }).catch(() => {}), 300);
}

function renderOpenChat() {
  if (!state.open) return;
  renderChatHeader();
  renderMessages({});
}

function userName(id) {
  if (id === state.me?.id) return t("You");
  return state.users.get(id)?.fullname ?? t("User {id}", { id });
}

// fullName is a user's name, the reader's own included (for mentions).
function fullName(id) {
  if (id === state.me?.id) return state.me.fullname;
  return state.users.get(id)?.fullname ?? t("User {id}", { id });
}

function userOf(id) {
  return id === state.me?.id ? state.me : state.users.get(id);
}

// avatarEl is a user's picture (the signed thumbnail link), or the
// initial of their name. A link that stopped working (they expire after
// an hour) falls back to the initial and fetches the directory again.
function avatarEl(userId, cls = "") {
  const u = userOf(userId);
  const name = u?.fullname ?? "?";
  const letter = h("span", { class: `avatar ${cls}`, "aria-hidden": "true" }, initial(name));
  if (!u?.avatar_url) return letter;
  return h("img", { class: `avatar avatar-img ${cls}`, src: u.avatar_url, alt: "", "aria-hidden": "true",
    onerror: (ev) => { ev.currentTarget.replaceWith(letter); staleLinks(); } });
}

// staleLinks refreshes the directory (fresh avatar links) at most once a
// minute.
let staleAt = 0;
function staleLinks() {
  if (Date.now() - staleAt < 60_000) return;
  staleAt = Date.now();
  reloadUsersSoon();
  if (userOf(state.me?.id)) api.request("GET", "/users/me").then((me) => { state.me = { ...state.me, ...me }; renderIdentity(); }).catch(() => {});
}

async function loadChats() {
  const r = await api.request("GET", "/chats");
  const seen = new Set();
  for (const c of r.chats ?? []) {
    seen.add(c.id);
    state.chats.set(c.id, c);
  }
  for (const id of [...state.chats.keys()]) if (!seen.has(id)) forgetChat(id);
  // Direct chats are named after the other person: their members are needed.
  await Promise.all([...state.chats.values()].filter((c) => c.type === "direct" && !state.members.has(c.id)).map((c) => loadMembers(c.id).catch(() => {})));
  await loadPresence(partnerIds());
  renderChatList();
}

async function refreshChat(id) {
  try {
    const c = await api.request("GET", `/chats/${id}`);
    if (!c.role) return forgetChat(id); // a public channel seen from outside
    state.chats.set(id, c);
    if (c.type === "direct" && !state.members.has(id)) {
      await loadMembers(id);
      await loadPresence(partnerIds());
    }
  } catch (e) {
    if (e.status === 404) forgetChat(id);
  }
  renderChatList();
  if (id === state.open) renderChatHeader();
}

function forgetChat(id) {
  state.chats.delete(id);
  state.stores.delete(id);
  state.members.delete(id);
  state.typing.delete(id);
  if (state.open === id) {
    if (routeOf(location.pathname).chat === id) go("/", { replace: true });
    closeChat();
  }
  renderChatList();
}

async function loadMembers(id) {
  const r = await api.request("GET", `/chats/${id}/members`);
  const m = new Map();
  for (const x of r.members ?? []) m.set(x.user_id, x);
  state.members.set(id, m);
  if ([...m.keys()].some((uid) => !state.users.has(uid))) reloadUsersSoon();
  return m;
}

// partnerIds are the other people of direct chats, whose presence the
// chat list shows.
function partnerIds() {
  const ids = new Set();
  for (const c of state.chats.values()) {
    const p = partnerOf(c);
    if (p) ids.add(p);
  }
  return [...ids];
}

function partnerOf(chat) {
  if (chat?.type !== "direct") return 0;
  const m = state.members.get(chat.id);
  if (!m) return 0;
  for (const uid of m.keys()) if (uid !== state.me?.id) return uid;
  return 0;
}

async function loadPresence(ids) {
  ids = ids.filter((id) => id !== state.me?.id);
  if (!ids.length || !state.presenceRoute) return;
  try {
    for (let i = 0; i < ids.length; i += 100) {
      const r = await api.request("GET", `/presence?user_ids=${ids.slice(i, i + 100).join(",")}`);
      for (const p of r.presence ?? []) state.presence.set(p.user_id, p);
    }
  } catch (e) {
    if (e.status === 404) state.presenceRoute = false; // not served by this server yet
  }
  renderPresenceTexts();
}

function chatName(c) {
  if (!c) return "";
  if (c.name) return c.name;
  if (c.type === "direct") {
    const p = partnerOf(c);
    return p ? userName(p) : t("Direct message");
  }
  return t("Chat {id}", { id: c.id });
}

function activity(c) {
  return Date.parse(c.last_message?.created_at ?? c.updated_at ?? c.created_at) || 0;
}

// ---------------------------------------------------------------- message stores

// store is a chat's messages by seq. tail is the highest seq up to which
// the newest loaded block has no gap: catch-up asks for after_seq=tail.
// hasNewer is true while the loaded window stops short of the newest
// message (after opening a search result); messages past tail are then
// kept but not shown until the gap is filled.
function store(chatId) {
  let s = state.stores.get(chatId);
  if (!s) {
    s = { bySeq: new Map(), tail: 0, hasOlder: true, hasNewer: false, loaded: false, loading: null };
    state.stores.set(chatId, s);
  }
  return s;
}

function advanceTail(s) {
  while (s.bySeq.has(s.tail + 1)) s.tail++;
}

// putMessage records one copy of a message; an older copy (no edit, no
// delete) never replaces a newer one.
function putMessage(m) {
  const s = store(m.chat_id);
  const old = s.bySeq.get(m.seq);
  if (old && version(old) > version(m)) return s;
  s.bySeq.set(m.seq, m);
  return s;
}

function version(m) {
  return m.deleted_at ? 3 : m.edited_at ? 2 + (Date.parse(m.edited_at) || 0) / 1e15 : 1;
}

async function loadLatest(chatId) {
  const s = store(chatId);
  const r = await api.request("GET", `/chats/${chatId}/messages?limit=${pageSize}`);
  s.bySeq.clear();
  for (const m of r.messages) putMessage(m);
  const seqs = r.messages.map((m) => m.seq);
  s.tail = seqs.length ? Math.max(...seqs) : 0;
  s.hasOlder = r.has_more;
  s.hasNewer = false;
  s.loaded = true;
  await catchUp(chatId); // anything sent while the page was on its way
}

async function loadOlder(chatId) {
  const s = store(chatId);
  if (!s.hasOlder || s.loading) return;
  const oldest = Math.min(...s.bySeq.keys());
  if (!Number.isFinite(oldest) || oldest <= 1) {
    s.hasOlder = false;
    return;
  }
  s.loading = "older";
  try {
    const r = await api.request("GET", `/chats/${chatId}/messages?before_seq=${oldest}&limit=${pageSize}`);
    for (const m of r.messages) putMessage(m);
    s.hasOlder = r.has_more;
  } finally {
    s.loading = null;
  }
}

async function loadNewer(chatId) {
  const s = store(chatId);
  if (!s.hasNewer || s.loading) return;
  s.loading = "newer";
  try {
    const r = await api.request("GET", `/chats/${chatId}/messages?after_seq=${s.tail}&limit=${pageSize}`);
    for (const m of r.messages) putMessage(m);
    advanceTail(s);
    s.hasNewer = r.has_more;
    if (!s.hasNewer) advanceTail(s);
  } finally {
    s.loading = null;
  }
}

// loadAround opens a chat at one message (a search result): a page on each
// side of it.
async function loadAround(chatId, seq) {
  const [older, newer] = await Promise.all([
    api.request("GET", `/chats/${chatId}/messages?before_seq=${seq + 1}&limit=25`),
    api.request("GET", `/chats/${chatId}/messages?after_seq=${seq}&limit=25`),
  ]);
  const s = store(chatId);
  s.bySeq.clear();
  for (const m of [...older.messages, ...newer.messages]) putMessage(m);
  const seqs = [...s.bySeq.keys()];
  s.tail = seqs.length ? Math.max(...seqs) : seq;
  s.hasOlder = older.has_more;
  s.hasNewer = newer.has_more;
  s.loaded = true;
}

// catchUp fetches what came after the tail (a gap, or a reconnect).
const catchingUp = new Map();
function catchUp(chatId) {
  if (catchingUp.has(chatId)) return catchingUp.get(chatId);
  const p = (async () => {
    const s = store(chatId);
    for (let i = 0; i < 20 && s.loaded && !s.hasNewer; i++) {
      const r = await api.request("GET", `/chats/${chatId}/messages?after_seq=${s.tail}&limit=200`);
      for (const m of r.messages) putMessage(m);
      advanceTail(s);
      scheduleDelivered(chatId, s.tail);
      if (!r.has_more || !r.messages.length) break;
    }
  })().finally(() => catchingUp.delete(chatId));
  catchingUp.set(chatId, p);
  return p.then(() => {
    if (chatId === state.open) {
      renderMessages({ stick: true });
      markReadIfSeen();
    }
  });
}

// ---------------------------------------------------------------- WebSocket frames

function onFrame(f) {
  const d = f.data ?? {};
  switch (f.type) {
    case "hello":
      return onHello(d);
    case "message.created":
    case "message.updated":
      return onMessage(d, f.type === "message.created");
    case "message.deleted":
      return onMessageDeleted(d);
    case "ack":
      return resolvePending(String(d.ref), d.message);
    case "error":
      return onErrorFrame(d);
    case "receipt.updated":
      return onReceipt(d);
    case "presence.updated":
      state.presence.set(d.user_id, d);
      return renderPresenceTexts();
    case "typing.updated":
      return onTyping(d);
    case "chat.created":
      return refreshChat(d.id ?? d.chat_id);
    case "chat.updated": {
      const c = state.chats.get(d.id);
      if (c) Object.assign(c, d);
      renderChatList();
      if (d.id === state.open) renderChatHeader();
      return;
    }
    case "chat.deleted":
      return forgetChat(d.chat_id);
    case "chat.member_added":
    case "chat.member_removed":
      return onMemberChange(d, f.type === "chat.member_added");
    case "reaction.updated":
      return onReaction(d);
    case "thread.updated":
      return onThreadUpdated(d);
    case "user.updated":
      return onUserUpdated(d);
  }
}

function onHello(d) {
  // The server says where each chat is; what is behind it is fetched.
  let stale = false;
  const known = new Set();
  for (const { chat_id: id, last_seq: last } of d.chats ?? []) {
    known.add(id);
    const c = state.chats.get(id);
    if (!c || last > (c.last_seq ?? 0)) stale = true;
    const s = state.stores.get(id);
    if (s?.loaded && !s.hasNewer && last > s.tail) catchUp(id).catch(() => {});
  }
  for (const id of state.chats.keys()) if (!known.has(id)) stale = true;
  if (stale) loadChats().catch(() => {});
  if (!state.users.size) reloadUsersSoon(); // the first load failed
  // Sends that were waiting for the socket go now, with their keys.
  for (const p of state.pending.values()) if (p.status === "sending" && !p.via) dispatch(p);
  markReadIfSeen();
  sendPresence();
  // What the thread and the Mentions view missed while offline.
  if (state.thread) loadReplies();
  if (state.mentions && !state.mentions.loading) openMentionsAgain();
}

function openMentionsAgain() {
  state.mentions = { items: [], hasMore: false, loading: false };
  loadMentions();
}

function onMessage(m, created) {
  const c = state.chats.get(m.chat_id);
  if (!c) {
    refreshChat(m.chat_id);
    return;
  }
  // Our own message coming back: the pending copy is done.
  if (m.sender_id === state.me?.id && m.idempotency_key && state.pending.has(m.idempotency_key)) {
    resolvePending(m.idempotency_key, m);
    return;
  }
  threadMessage(m);
  const s = state.stores.get(m.chat_id);
  if (s?.loaded) {
    const gap = !s.hasNewer && m.seq > s.tail + 1;
    putMessage(m);
    advanceTail(s);
    if (gap) catchUp(m.chat_id).catch(() => {});
  }
  if (created) {
    const isNew = m.seq > (c.last_seq ?? 0); // copies (ack, catch-up) count once
    c.last_seq = Math.max(c.last_seq ?? 0, m.seq);
    if (!c.last_message || c.last_message.seq <= m.seq) c.last_message = m;
    if (m.sender_id === state.me?.id) {
      c.unread_count = 0;
      c.mention_count = 0;
      c.last_read_seq = Math.max(c.last_read_seq ?? 0, m.seq);
    } else {
      if (isNew && m.seq > (c.last_read_seq ?? 0) && !chatSeen(m.chat_id)) {
        c.unread_count = (c.unread_count ?? 0) + 1;
        if (mentionsMe(m)) c.mention_count = (c.mention_count ?? 0) + 1;
      }
      if (isNew && mentionsMe(m)) mentionArrived(m);
      if (isNew && m.chat_id === state.open && !atBottom()) state.unseenBelow++;
      if (isNew) notify(c, m);
      scheduleDelivered(m.chat_id, m.seq);
      state.typing.get(m.chat_id)?.delete(m.sender_id);
    }
  } else if (c.last_message?.seq === m.seq) {
    c.last_message = m;
  }
  renderChatList();
  if (m.chat_id === state.open) {
    renderMessages({ stick: true });
    renderTyping();
    renderJump();
    markReadIfSeen();
  }
}

// notify shows a desktop notification for a direct message or a mention
// of the user while the tab is hidden (and the user allowed them).
// A mention is one the server reports (mentions, mentions_all) or, in
// older messages, "@Full Name" or "@FirstName" written by hand.
function notify(c, m) {
  if (document.visibilityState !== "hidden" || m.deleted_at) return;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (c.type !== "direct" && !mentionsMe(m)) return;
  const title = c.type === "direct" ? userName(m.sender_id) : t("{who} in {chat}", { who: userName(m.sender_id), chat: chatName(c) });
  try {
    const n = new Notification(title, { body: messageText(m).slice(0, 200), tag: `chat-${c.id}`, icon: "/icon-192.png" });
    n.addEventListener("click", () => {
      window.focus();
      openChat(c.id, { aroundSeq: m.seq });
      n.close();
    });
  } catch {
    // Some browsers only notify from a service worker: nothing then.
  }
}

// mentionsMe: m mentions the reader (by the server's list, @all, or by
// name in a message from before mentions were tokens).
function mentionsMe(m) {
  if (!state.me || m.sender_id === state.me.id || m.deleted_at) return false;
  if (m.mentions_all || m.mentions?.includes(state.me.id)) return true;
  const me = state.me.fullname ?? "";
  return mentionsName(m.content, me) || mentionsName(m.content, me.split(" ")[0]);
}

// messageText is a message as plain text: mentions written out, and its
// files named when it has no text.
function messageText(m) {
  if (m.deleted_at) return t("Message deleted");
  const text = plainText(m.content ?? "", fullName);
  if (text.trim() || !m.attachments?.length) return text;
  return m.attachments.map((f) => "📎 " + f.name).join(", ");
}

function onMessageDeleted(d) {
  const s = state.stores.get(d.chat_id);
  const m = s?.bySeq.get(d.seq);
  const gone = (x) => ({ ...x, content: "", attachments: [], reactions: [], deleted_at: x.deleted_at ?? new Date().toISOString() });
  if (m) s.bySeq.set(d.seq, gone(m));
  const th = state.thread;
  if (th?.chatId === d.chat_id) {
    if (th.root.seq === d.seq) th.root = gone(th.root);
    const r = th.replies.get(d.seq);
    if (r) th.replies.set(d.seq, gone(r));
    renderThread();
  }
  if (state.mentions) {
    state.mentions.items = state.mentions.items.filter((x) => !(x.chat_id === d.chat_id && x.seq === d.seq));
    renderMentions();
  }
  // The unread count and last message may change: ask the server.
  refreshChat(d.chat_id);
  if (d.chat_id === state.open) renderMessages({});
}

function onErrorFrame(d) {
  const ref = d.ref == null ? "" : String(d.ref);
  if (ref && state.pending.has(ref)) {
    failPending(ref, d);
    return;
  }
  if (d.code === "rate_limited") toast("Slow down: " + (d.message ?? "too many requests"));
  else console.warn("fechatter: server error frame", d);
}

function onReceipt(d) {
  // Coalesced (README, "Receipts on the WebSocket"): receipts lists every
  // member that moved in the window with their latest pointers; the
  // top-level fields are only the last of them.
  const moves = Array.isArray(d.receipts) && d.receipts.length ? d.receipts : [d];
  const chats = new Set();
  let mine = false;
  for (const r of moves) {
    const chatId = r.chat_id ?? d.chat_id;
    chats.add(chatId);
    const m = state.members.get(chatId)?.get(r.user_id);
    if (m) {
      m.last_read_seq = Math.max(m.last_read_seq ?? 0, r.last_read_seq ?? 0);
      m.last_delivered_seq = Math.max(m.last_delivered_seq ?? 0, r.last_delivered_seq ?? 0);
    }
    if (r.user_id !== state.me?.id) continue;
    // Read on another device.
    const c = state.chats.get(chatId);
    if (c && r.last_read_seq > (c.last_read_seq ?? 0)) {
      c.last_read_seq = r.last_read_seq;
      if (r.last_read_seq >= (c.last_seq ?? 0)) c.unread_count = c.mention_count = 0;
      else refreshChat(chatId);
      mine = true;
    }
  }
  if (mine) renderChatList();
  if (chats.has(state.open)) renderSeen();
}

function onTyping(d) {
  if (d.user_id === state.me?.id) return;
  let m = state.typing.get(d.chat_id);
  if (!m) state.typing.set(d.chat_id, (m = new Map()));
  if (d.is_typing) m.set(d.user_id, Date.parse(d.expires_at) || Date.now() + 6000);
  else m.delete(d.user_id);
  if (d.chat_id === state.open) renderTyping();
  renderChatList();
}

function onMemberChange(d, added) {
  if (d.user_id === state.me?.id) {
    if (added) refreshChat(d.chat_id);
    else forgetChat(d.chat_id);
    return;
  }
  if (added && !state.users.has(d.user_id)) reloadUsersSoon();
  if (state.members.has(d.chat_id)) {
    loadMembers(d.chat_id).then(() => {
      if (d.chat_id === state.open) {
        renderSeen();
        if ($("members-dialog").open) renderMembersDialog();
      }
    }).catch(() => {});
  }
  refreshChat(d.chat_id);
}

// tick expires typing indicators whose time is up.
function tick() {
  const now = Date.now();
  let changed = false;
  for (const m of state.typing.values()) {
    for (const [uid, until] of m) if (until <= now) { m.delete(uid); changed = true; }
  }
  if (changed) {
    renderTyping();
    renderChatList();
  }
}

// ---------------------------------------------------------------- receipts, typing, presence out

// chatSeen: the chat is on screen in a visible tab.
function chatSeen(chatId) {
  return chatId === state.open && document.visibilityState === "visible";
}

// markReadIfSeen tells the server the open chat is read up to its newest
// message, once per seq.
function markReadIfSeen() {
  const id = state.open;
  if (!id || !chatSeen(id)) return;
  const c = state.chats.get(id);
  const s = state.stores.get(id);
  if (!c || !s?.loaded || s.hasNewer) return;
  const seq = s.tail;
  if (seq < 1) return;
  const sent = Math.max(state.readSent.get(id) ?? 0, c.last_read_seq ?? 0);
  if (c.unread_count || c.mention_count) {
    c.unread_count = 0;
    c.mention_count = 0;
    renderChatList();
  }
  if (seq <= sent) return;
  state.readSent.set(id, seq);
  c.last_read_seq = seq;
  if (!socket?.send({ type: "read", chat_id: id, seq })) {
    api.request("POST", `/chats/${id}/read`, { seq }).catch(() => state.readSent.delete(id));
  }
}

function scheduleDelivered(chatId, seq) {
  if (state.deliveredTimers.has(chatId)) return;
  state.deliveredTimers.set(chatId, setTimeout(() => {
    state.deliveredTimers.delete(chatId);
    const c = state.chats.get(chatId);
    const s = state.stores.get(chatId);
    const upTo = Math.max(seq, s?.tail ?? 0);
    if (!c || upTo <= (c.last_delivered_seq ?? 0)) return;
    c.last_delivered_seq = upTo;
    socket?.send({ type: "delivered", chat_id: chatId, seq: upTo });
  }, 400));
}

function sendTyping(chatId, isTyping) {
  if (socket?.send({ type: "typing", chat_id: chatId, is_typing: isTyping })) return;
  api.request("POST", `/chats/${chatId}/typing`, { is_typing: isTyping }).catch(() => {});
}

function typingInput() {
  const id = state.open;
  if (!id) return;
  if (!$("composer-input").value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  const t = state.myTyping;
  if (t && t.chatId === id && now - t.at < typingEvery) return;
  if (t && t.chatId !== id) stopTyping();
  state.myTyping = { chatId: id, at: now };
  sendTyping(id, true);
}

function stopTyping() {
  const t = state.myTyping;
  if (!t) return;
  state.myTyping = null;
  sendTyping(t.chatId, false);
}

function sendPresence() {
  socket?.send({ type: "presence", status: document.visibilityState === "visible" ? "online" : "away" });
}

// ---------------------------------------------------------------- sending

// sendMessage sends content (with the server's mention tokens) and files
// (File objects, uploaded already) to a chat.
function sendMessage(chatId, content, replyToId, files = []) {
  const key = uuid();
  const p = { key, chatId, content, files, replyToId: replyToId || undefined, status: "sending", via: "", timer: 0, tries: 0, el: null };
  state.pending.set(key, p);
  stopTyping();
  renderPending();
  scrollToBottom();
  dispatch(p);
}

// dispatch sends over the socket when it is up, else over REST; both with
// the same idempotency key, so repeats never make a second message.
function dispatch(p) {
  clearTimeout(p.timer);
  p.status = "sending";
  p.tries++;
  const attachmentIds = p.files.length ? p.files.map((f) => f.id) : undefined;
  if (socket?.send({ type: "message.send", ref: p.key, chat_id: p.chatId, content: p.content, idempotency_key: p.key, reply_to_id: p.replyToId, attachment_ids: attachmentIds })) {
    p.via = "ws";
    p.timer = setTimeout(() => state.pending.has(p.key) && sendREST(p), ackTimeout);
  } else {
    sendREST(p);
  }
  renderPending();
}

async function sendREST(p) {
  p.via = "rest";
  clearTimeout(p.timer);
  try {
    const m = await api.request("POST", `/chats/${p.chatId}/messages`, { content: p.content, idempotency_key: p.key, reply_to_id: p.replyToId,
      attachment_ids: p.files.length ? p.files.map((f) => f.id) : undefined });
    resolvePending(p.key, m);
  } catch (e) {
    if (!state.pending.has(p.key)) return;
    if ((e.status === 0 || e.status === 503 || e.status === 429) && p.tries < 6) {
      // Transient: try again (the socket may be back by then).
      p.via = "";
      const wait = e.retryAfter ? e.retryAfter * 1000 : Math.min(15_000, 1000 * 2 ** p.tries);
      p.timer = setTimeout(() => state.pending.has(p.key) && dispatch(p), wait);
      return;
    }
    failPending(p.key, e);
  }
}

function resolvePending(key, m) {
  const p = state.pending.get(key);
  if (p) {
    clearTimeout(p.timer);
    state.pending.delete(key);
    renderPending();
  }
  if (m) onMessage(m, true);
}

function failPending(key, e) {
  const p = state.pending.get(key);
  if (!p) return;
  clearTimeout(p.timer);
  p.status = "failed";
  p.error = e?.message ?? "not sent";
  renderPending();
}

// When the socket drops, sends waiting for an ack go over REST.
function renderConnection(st) {
  const el = $("conn-status");
  el.textContent = st === "open" ? "" : st === "connecting" ? t("Connecting…") : t("Offline, reconnecting…");
  el.dataset.state = st;
  $("chat-conn").textContent = el.textContent; // the phone's chat screen has no top bar
  if (st === "closed") {
    for (const p of state.pending.values()) if (p.status === "sending" && p.via === "ws") sendREST(p);
  }
}

// ---------------------------------------------------------------- opening a chat

let openSeq = 0;
async function openChat(id, { aroundSeq = 0, push = true } = {}) {
  const c = state.chats.get(id);
  if (!c) return;
  if (push) go(aroundSeq ? `/chats/${id}/messages/${aroundSeq}` : `/chats/${id}`);
  if (id === state.open && !aroundSeq && state.stores.get(id)?.loaded && !state.stores.get(id).hasNewer) {
    if (wide()) $("composer-input").focus(); // already on screen
    return;
  }
  if (state.open !== id) {
    stopTyping();
    $("composer-input").value = "";
    renderCount();
    setReply(null);
    clearUploads();
    if (state.thread && state.thread.chatId !== id) closeThread(false);
    // The unread divider goes before the first message not yet read.
    state.unreadFrom = c.unread_count ? (c.last_read_seq ?? 0) + 1 : 0;
  }
  const ticket = ++openSeq;
  state.open = id;
  state.editing = 0;
  state.unseenBelow = 0;
  renderJump();
  msgEls.clear();
  $("messages").replaceChildren();
  showChatPane(true);
  renderChatHeader();
  renderPending();
  renderTyping();
  renderChatList();
  const s = store(id);
  try {
    if (aroundSeq) await loadAround(id, aroundSeq);
    else if (!s.loaded || s.hasNewer) await loadLatest(id);
    else await catchUp(id);
  } catch (e) {
    toast(errorText(e));
  }
  if (ticket !== openSeq) return;
  renderMessages({});
  const divider = $("messages").querySelector(".unread-sep");
  if (aroundSeq) {
    const el = msgEls.get(aroundSeq)?.el;
    if (el) {
      el.classList.remove("found");
      void el.offsetWidth; // restart the highlight
      el.classList.add("found");
      el.scrollIntoView({ block: "center" });
      focusMessage(el);
    } else {
      toast(t("That message is not there any more."));
    }
  } else if (divider) {
    divider.scrollIntoView({ block: "start" });
    if (wide()) $("composer-input").focus();
  } else {
    scrollToBottom();
    if (wide()) $("composer-input").focus();
    else $("back-btn").focus();
  }
  markReadIfSeen();
  try {
    await loadMembers(id);
    if (ticket !== openSeq) return;
    await loadPresence([...state.members.get(id).keys()]);
  } catch {
    // Seen-by and presence wait for the next event.
  }
  if (ticket !== openSeq) return;
  renderChatHeader();
  renderSeen();
}

function showChatPane(on) {
  $("chat-pane").hidden = !on;
  $("empty-pane").hidden = on;
  $("chat-view").classList.toggle("in-chat", on);
}

function wide() {
  return matchMedia("(min-width: 701px)").matches;
}

// ---------------------------------------------------------------- rendering: chat list

let chatListSig = "";
function renderChatList() {
  if (!state.me) return;
  const list = $("chat-list");
  const focused = document.activeElement?.closest?.("#chat-list [data-chat-id]")?.dataset.chatId;
  const chats = [...state.chats.values()].sort((a, b) => activity(b) - activity(a));
  let unread = 0;
  let mentions = 0;
  const items = chats.map((c) => {
    unread += c.unread_count ?? 0;
    const partner = partnerOf(c);
    const last = c.last_message;
    const typers = [...(state.typing.get(c.id)?.keys() ?? [])];
    let preview = "";
    if (typers.length) preview = typers.length === 1 ? t("{who} is typing…", { who: userName(typers[0]) }) : t("Several people are typing…");
    else if (last) preview = last.deleted_at ? t("Message deleted") : (last.sender_id === state.me.id ? t("You: ") : c.type === "direct" ? "" : userName(last.sender_id) + ": ") + messageText(last);
    const badge = c.unread_count ? h("span", { class: "badge", "aria-label": t("{n} unread", { n: c.unread_count }) }, String(c.unread_count > 99 ? "99+" : c.unread_count)) : null;
    mentions += c.mention_count ?? 0;
    const atBadge = c.mention_count ? h("span", { class: "badge mention-badge", "aria-label": t("{n} mentions", { n: c.mention_count }) }, "@" + (c.mention_count > 99 ? "99+" : c.mention_count)) : null;
    return h("li", {},
      h("button", {
        type: "button", class: "chat-item" + (c.id === state.open ? " active" : "") + (c.unread_count ? " unread" : ""),
        dataset: { chatId: String(c.id) }, "aria-current": c.id === state.open ? "true" : null,
        onclick: () => openChat(c.id),
      },
      h("span", { class: "avatar-wrap" },
        partner ? avatarEl(partner) : h("span", { class: `avatar ${c.type}`, "aria-hidden": "true" }, c.type.endsWith("channel") ? "#" : initial(chatName(c))),
        partner ? presenceDot(partner) : null),
      h("span", { class: "chat-item-text" },
        h("span", { class: "chat-item-name" }, chatName(c), c.type === "private_channel" ? h("span", { class: "tag" }, t("private")) : null),
        h("span", { class: "chat-item-preview" + (typers.length ? " typing-preview" : "") }, preview)),
      atBadge, badge));
  });
  // The list is replaced only when it shows something else: a click or a
  // focus on it is never lost to a redraw that changed nothing.
  const sig = items.map((li) => li.textContent + "|" + li.firstElementChild.className + "|" +
    [...li.querySelectorAll("[aria-label], img")].map((e) => `${e.getAttribute("aria-label")}${e.getAttribute("src")}${e.className}`).join()).join("\n");
  if (sig !== chatListSig || list.children.length !== items.length) {
    chatListSig = sig;
    list.replaceChildren(...items);
  }
  $("no-chats").hidden = chats.length > 0;
  const mb = $("mentions-badge");
  mb.textContent = mentions ? String(mentions > 99 ? "99+" : mentions) : "";
  mb.hidden = !mentions;
  $("mentions-btn").setAttribute("aria-label", mentions ? t("Mentions, {n} unread", { n: mentions }) : t("Mentions"));
  mentionsShown = mentions;
  setBadge(unread);
  if (focused) list.querySelector(`[data-chat-id="${CSS.escape(focused)}"]`)?.focus();
}

function initial(name) {
  return ([...name.trim()][0] ?? "?").toUpperCase();
}

function presenceDot(userId) {
  const p = state.presence.get(userId);
  const st = p?.status ?? "unknown";
  const label = p ? presenceText(p) : t("presence unknown");
  return h("span", { class: `dot ${st}`, role: "img", "aria-label": label, title: label, dataset: { presenceUser: String(userId) } });
}

function presenceText(p) {
  if (!p) return "";
  if (p.status === "online") return t("online");
  if (p.status === "away") return t("away");
  return p.last_seen ? t("last seen {when}", { when: ago(p.last_seen) }) : t("offline");
}

function renderPresenceTexts() {
  renderChatList();
  if (state.open) renderChatHeader();
}

// ---------------------------------------------------------------- rendering: open chat

function renderChatHeader() {
  const c = state.chats.get(state.open);
  if (!c) return;
  $("chat-title").textContent = chatName(c);
  const sub = $("chat-subtitle");
  const partner = partnerOf(c);
  $("chat-avatar").replaceChildren(partner ? avatarEl(partner) : "");
  if (partner) {
    const p = state.presence.get(partner);
    sub.textContent = p ? presenceText(p) : t("Direct message");
  } else {
    const kinds = { group: t("Group"), public_channel: t("Public channel"), private_channel: t("Private channel") };
    const members = state.members.get(c.id);
    let online = 0;
    if (members) for (const uid of members.keys()) if (state.presence.get(uid)?.status === "online") online++;
    sub.textContent = [kinds[c.type] ?? c.type, t("{n} members", { n: c.member_count }), online ? t("{n} online", { n: online }) : "", c.description]
      .filter(Boolean).join(" · ");
  }
  $("members-btn").textContent = isAdmin(c) ? t("Manage") : t("Members");
  setBadge(Math.max(0, badgeShown));
}

function isAdmin(c) {
  return c?.role === "owner" || c?.role === "admin";
}

// msgEls caches the open chat's message elements by seq, with the version
// they show.
const msgEls = new Map();

// renderMessages syncs the list with the store: in seq order, one element
// per message, rebuilt only when the message changed. stick keeps the view
// at the bottom when it was there; loading older messages keeps the view
// where it was.
function renderMessages({ stick = false, keepTop = false }) {
  const id = state.open;
  const s = state.stores.get(id);
  const list = $("messages");
  if (!s) return;
  const scroller = $("message-scroll");
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
  const prevHeight = scroller.scrollHeight;
  for (const sep of list.querySelectorAll(".sep")) sep.remove();
  const seqs = [...s.bySeq.keys()].filter((q) => !s.hasNewer || q <= s.tail).sort((a, b) => a - b);
  const want = new Set(seqs);
  for (const [seq, e] of msgEls) if (!want.has(seq)) { e.el.remove(); msgEls.delete(seq); }
  let prev = null;
  let cursor = list.firstElementChild;
  for (const seq of seqs) {
    const m = s.bySeq.get(seq);
    const v = messageVersion(m);
    let e = msgEls.get(seq);
    if (!e || (e.v !== v && state.editing !== seq)) {
      const el = messageElement(m);
      if (e) {
        if (cursor === e.el) cursor = el;
        const focused = e.el.contains(document.activeElement);
        e.el.replaceWith(el);
        if (focused) focusMessage(el); // focus stays on the message that changed
      }
      e = { el, v };
      msgEls.set(seq, e);
    }
    const newDay = !prev || dayKey(prev.created_at) !== dayKey(m.created_at);
    const firstUnread = state.unreadFrom && m.seq >= state.unreadFrom && (!prev || prev.seq < state.unreadFrom);
    const cont = prev && !newDay && !firstUnread && !prev.deleted_at && !m.deleted_at && prev.sender_id === m.sender_id &&
      Date.parse(m.created_at) - Date.parse(prev.created_at) < 5 * 60_000 && !m.reply_to_id;
    e.el.classList.toggle("cont", !!cont);
    if (e.el !== cursor) list.insertBefore(e.el, cursor);
    else cursor = cursor.nextElementSibling;
    if (newDay) {
      list.insertBefore(h("li", { class: "sep day-sep", role: "separator" },
        h("time", { datetime: m.created_at.slice(0, 10) }, dayLabel(m.created_at))), e.el);
    }
    if (firstUnread && m.sender_id !== state.me?.id) {
      list.insertBefore(h("li", { class: "sep unread-sep", role: "separator" }, h("span", {}, t("New messages"))), e.el);
    }
    prev = m;
  }
  $("older-btn").hidden = !s.hasOlder;
  $("newer-btn").hidden = !s.hasNewer;
  renderSeen();
  if (keepTop) scroller.scrollTop += scroller.scrollHeight - prevHeight;
  else if (stick && atBottom) scrollToBottom();
  renderJump();
}

// atBottom: the open chat is scrolled to its newest message.
function atBottom() {
  const sc = $("message-scroll");
  return sc.scrollHeight - sc.scrollTop - sc.clientHeight < 60;
}

// renderJump shows "N new messages" while new ones arrived below the view.
function renderJump() {
  const b = $("jump-btn");
  if (state.unseenBelow && !atBottom()) {
    b.textContent = t("{n} new messages", { n: state.unseenBelow }) + " ↓";
    b.hidden = false;
  } else {
    state.unseenBelow = 0;
    b.hidden = true;
  }
}

// messageVersion is what a message element shows: it is rebuilt when this
// changes.
function messageVersion(m) {
  const u = userOf(m.sender_id);
  return JSON.stringify([m.content, m.edited_at, m.deleted_at, u?.fullname, u?.avatar_url, replyPreview(m),
    m.reactions?.map((r) => [r.emoji, r.user_ids]), m.reply_count, m.last_reply_at, m.attachments?.map((f) => f.id),
    (m.mentions ?? []).map((id) => fullName(id))]);
}

// replyPreview is "Name: text" of the message m replies to, when known.
function replyPreview(m) {
  if (!m.reply_to_id) return "";
  const s = state.stores.get(m.chat_id);
  for (const x of s?.bySeq.values() ?? []) {
    if (x.id === m.reply_to_id) return `${userName(x.sender_id)}: ${x.deleted_at ? t("This message was deleted.") : messageText(x).slice(0, 80)}`;
  }
  const root = state.thread?.root;
  if (root?.id === m.reply_to_id) return `${userName(root.sender_id)}: ${messageText(root).slice(0, 80)}`;
  return t("an earlier message");
}

function isMention(name) {
  const n = name.toLowerCase();
  const me = state.me?.fullname?.toLowerCase() ?? "";
  if (n === me || n === me.split(" ")[0]) return 2;
  for (const u of state.users.values()) {
    const f = u.fullname.toLowerCase();
    if (n === f || n === f.split(" ")[0]) return 1;
  }
  return 0;
}

function userMention(id) {
  return { name: fullName(id), me: id === state.me?.id };
}

// messageElement builds one message. Its actions sit behind one menu
// button that is not a tab stop: the message log is one tab stop, the
// arrow keys move between messages, Enter opens the menu (or r, e, t, +,
// Delete). inThread: the copy shown in the thread panel (no thread line).
function messageElement(m, { inThread = false } = {}) {
  const mine = m.sender_id === state.me?.id;
  const li = h("li", { class: "msg" + (mine ? " mine" : "") + (m.deleted_at ? " deleted" : ""), tabindex: "-1", dataset: { seq: String(m.seq), sender: String(m.sender_id) } });
  li.append(avatarEl(m.sender_id, "msg-avatar"));
  const head = h("div", { class: "msg-head" },
    h("span", { class: "sender" }, userName(m.sender_id)),
    h("a", { class: "time", href: `/chats/${m.chat_id}/messages/${m.seq}`, tabindex: "-1", title: fullTime(m.created_at),
      onclick: (ev) => { ev.preventDefault(); openChat(m.chat_id, { aroundSeq: m.seq }); } },
    h("time", { datetime: m.created_at }, shortTime(m.created_at))),
    m.edited_at && !m.deleted_at ? h("span", { class: "edited", title: fullTime(m.edited_at) }, t("(edited)")) : null);
  li.append(head);
  if (m.reply_to_id && !m.deleted_at && !(inThread && m.reply_to_id === state.thread?.root.id)) {
    li.append(h("button", { type: "button", class: "reply-quote", tabindex: "-1", "aria-label": t("In reply to {text}", { text: replyPreview(m) }),
      onclick: () => jumpToId(m.chat_id, m.reply_to_id) }, "↪ ", replyPreview(m)));
  }
  // A message of files alone has an empty body (editing puts text there).
  li.append(m.deleted_at ? h("div", { class: "body" }, t("This message was deleted."))
    : h("div", { class: "body" }, m.content ? richNodes(m.content, { isMention, userMention }) : null));
  if (!m.deleted_at) {
    const files = attachmentsEl(m);
    if (files) li.append(files);
    const reactions = reactionsEl(m);
    if (reactions) li.append(reactions);
    if (!inThread && m.reply_count > 0) {
      const label = t("{n} replies", { n: m.reply_count });
      const when = m.last_reply_at ? t("last reply {when}", { when: ago(m.last_reply_at) }) : "";
      li.append(h("button", { type: "button", class: "thread-summary", tabindex: "-1", "aria-label": t("Open the thread: {what}", { what: [label, when].filter(Boolean).join(", ") }),
        onclick: () => openThread(m) }, h("span", { class: "thread-count" }, label), when ? h("span", { class: "muted" }, " · " + when) : null));
    }
    li.append(h("button", { type: "button", class: "msg-react-btn", tabindex: "-1", "aria-haspopup": "menu",
      "aria-label": t("Add a reaction to the message of {who}", { who: userName(m.sender_id) }), title: t("Add reaction"),
      onclick: (ev) => openPicker(m, ev.currentTarget) }, "☺"));
    li.append(h("button", { type: "button", class: "msg-menu-btn", tabindex: "-1", "aria-haspopup": "menu",
      "aria-label": t("Actions for the message of {who}", { who: userName(m.sender_id) }), onclick: (ev) => openMenu(m, ev.currentTarget) }, "⋯"));
  }
  return li;
}

// ---------------------------------------------------------------- files in messages

// attachmentsEl shows a message's files: images as thumbnails (the signed
// links work in <img src>), other files as download links with their size.
function attachmentsEl(m) {
  if (!m.attachments?.length) return null;
  return h("div", { class: "attachments" }, m.attachments.map((f) => {
    if (f.thumbnail_url) {
      const [w, hgt] = fitBox(f.width, f.height, 240);
      return h("a", { class: "file-thumb", href: f.url, target: "_blank", rel: "noopener noreferrer", tabindex: "-1", title: f.name,
        onclick: (ev) => openFile(ev, f, false) },
      h("img", { class: "thumb", src: f.thumbnail_url, alt: f.name, width: w || null, height: hgt || null, loading: "lazy",
        onerror: (ev) => refreshFileImage(ev.currentTarget, f) }));
    }
    return h("a", { class: "file", href: f.url, download: f.name, tabindex: "-1", title: t("Download {name}", { name: f.name }),
      onclick: (ev) => openFile(ev, f, true) },
    h("span", { "aria-hidden": "true" }, "📄 "), h("span", { class: "file-name" }, f.name), h("span", { class: "muted" }, " " + fileSize(f.size)));
  }));
}

// fitBox scales w x h to fit a square of side max.
function fitBox(w, hgt, max) {
  if (!w || !hgt) return [0, 0];
  const k = Math.min(1, max / Math.max(w, hgt));
  return [Math.round(w * k), Math.round(hgt * k)];
}

function fileSize(n) {
  const fmt = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  if (n < 1024) return t("{n} B", { n: fmt.format(n) });
  if (n < 1024 * 1024) return t("{n} KB", { n: fmt.format(n / 1024) });
  return t("{n} MB", { n: fmt.format(n / 1024 / 1024) });
}

// linkExpiring: a signed link's exp (Unix seconds) is less than within
// (a minute) away.
function linkExpiring(url, within = 60_000) {
  const exp = Number(new URL(url, location.origin).searchParams.get("exp"));
  return !exp || exp * 1000 - Date.now() < within;
}

// freshFile asks the server for new signed links of f (they last an hour).
async function freshFile(f) {
  const x = await api.request("GET", `/files/${f.id}`);
  Object.assign(f, { url: x.url, thumbnail_url: x.thumbnail_url });
  return f;
}

// openFile follows a file's link, with fresh links when it is about to expire.
async function openFile(ev, f, download) {
  if (!linkExpiring(f.url)) return; // the link as it is
  ev.preventDefault();
  try {
    await freshFile(f);
  } catch (e) {
    toast(errorText(e));
    return;
  }
  const a = h("a", { href: f.url, target: download ? null : "_blank", rel: "noopener noreferrer", download: download ? f.name : null });
  document.body.append(a);
  a.click();
  a.remove();
}

// refreshFileImage retries a thumbnail once with fresh links.
function refreshFileImage(img, f) {
  if (img.dataset.retried) return;
  img.dataset.retried = "1";
  freshFile(f).then(() => {
    img.src = f.thumbnail_url;
    img.closest("a")?.setAttribute("href", f.url);
  }).catch(() => {});
}

// ---------------------------------------------------------------- reactions

// reactionsEl is a message's reaction bar: one button per emoji with its
// count, pressed when the reader is among those who chose it.
function reactionsEl(m) {
  if (!m.reactions?.length) return null;
  return h("div", { class: "reactions" }, m.reactions.map((r) => {
    const mine = r.user_ids?.includes(state.me?.id);
    const names = listFmt.format((r.user_ids ?? []).map(userName));
    return h("button", { type: "button", class: "reaction" + (mine ? " mine" : ""), tabindex: "-1", "aria-pressed": String(!!mine),
      "aria-label": t("{emoji} {n}: {names}", { emoji: r.emoji, n: r.count, names }), title: names,
      dataset: { emoji: r.emoji }, onclick: () => toggleReaction(m, r.emoji) },
    h("span", { class: "reaction-emoji", "aria-hidden": "true" }, r.emoji), h("span", { class: "reaction-count" }, String(r.count)));
  }));
}

// toggleReaction adds the reader's reaction, or takes it back.
async function toggleReaction(m, emoji) {
  const cur = currentCopy(m.chat_id, m.seq) ?? m;
  const mine = cur.reactions?.some((r) => r.emoji === emoji && r.user_ids?.includes(state.me?.id));
  try {
    const r = await api.request(mine ? "DELETE" : "PUT", `/chats/${m.chat_id}/messages/${m.seq}/reactions/${encodeURIComponent(emoji)}`);
    updateCopies(m.chat_id, m.seq, (x) => ({ ...x, reactions: r.reactions ?? [] }));
  } catch (e) {
    toast(errorText(e));
  }
}

// onReaction applies reaction.updated to every copy of the message.
function onReaction(d) {
  updateCopies(d.chat_id, d.seq, (x) => {
    const list = (x.reactions ?? []).map((r) => ({ ...r, user_ids: [...(r.user_ids ?? [])] }));
    let r = list.find((y) => y.emoji === d.emoji);
    if (!r && d.added) list.push((r = { emoji: d.emoji, count: 0, user_ids: [] }));
    if (!r) return x;
    const has = r.user_ids.includes(d.user_id);
    if (d.added && !has) r.user_ids.push(d.user_id);
    if (!d.added && has) r.user_ids = r.user_ids.filter((id) => id !== d.user_id);
    r.count = d.count;
    return { ...x, reactions: list.filter((y) => y.count > 0) };
  });
}

// currentCopy is the newest copy of a message the page holds.
function currentCopy(chatId, seq) {
  const th = state.thread;
  return state.stores.get(chatId)?.bySeq.get(seq) ??
    (th?.chatId === chatId ? (th.root.seq === seq ? th.root : th.replies.get(seq)) : null);
}

// updateCopies changes a message wherever the page shows it (the chat's
// store, the thread panel, the Mentions view) and redraws those.
function updateCopies(chatId, seq, fn) {
  const s = state.stores.get(chatId);
  const m = s?.bySeq.get(seq);
  if (m) s.bySeq.set(seq, fn(m));
  const th = state.thread;
  if (th?.chatId === chatId) {
    if (th.root.seq === seq) th.root = fn(th.root);
    const r = th.replies.get(seq);
    if (r) th.replies.set(seq, fn(r));
    if (th.root.seq === seq || r) renderThread();
  }
  if (m && chatId === state.open) renderMessages({ stick: true });
}

let pickerFor = null; // {m, from}: the message the emoji picker is open for
function openPicker(m, anchor) {
  closeMenu(false);
  const picker = $("emoji-picker");
  const cur = currentCopy(m.chat_id, m.seq) ?? m;
  pickerFor = { m, from: anchor.closest(".msg") };
  picker.replaceChildren(...reactionEmoji.map((e) => {
    const on = cur.reactions?.some((r) => r.emoji === e && r.user_ids?.includes(state.me?.id));
    return h("button", { type: "button", role: "menuitemcheckbox", tabindex: "-1", "aria-checked": String(!!on), class: on ? "on" : null,
      onclick: () => { closePicker(true); toggleReaction(m, e); } }, e);
  }));
  const r = anchor.getBoundingClientRect();
  picker.hidden = false;
  picker.style.top = Math.max(8, Math.min(r.bottom + 4, innerHeight - picker.offsetHeight - 8)) + "px";
  picker.style.left = Math.max(8, Math.min(r.right - picker.offsetWidth, innerWidth - picker.offsetWidth - 8)) + "px";
  picker.firstElementChild?.focus();
}

function closePicker(refocus = true) {
  const picker = $("emoji-picker");
  if (picker.hidden) return;
  picker.hidden = true;
  const from = pickerFor?.from;
  pickerFor = null;
  if (refocus && from?.isConnected) {
    if (from.closest("#messages")) focusMessage(from);
    else from.focus();
  }
}

function jumpToId(chatId, id) {
  const s = state.stores.get(chatId);
  for (const [seq, x] of s?.bySeq ?? []) if (x.id === id) return openChat(chatId, { aroundSeq: seq });
  toast(t("That message is not loaded; scroll up to find it."));
}

// The message menu: Reply, Reply in thread, Add reaction, the files, Copy
// link, Edit and Delete where allowed.
function menuItems(m, anchor) {
  const mine = m.sender_id === state.me?.id;
  const items = [[t("Reply"), () => replyTo(m)],
    [m.reply_count > 0 ? t("Open thread") : t("Reply in thread"), () => openThread(m)],
    [t("Add reaction…"), () => openPicker(m, anchor)]];
  for (const f of m.attachments ?? []) {
    items.push([f.thumbnail_url ? t("Open {name}", { name: f.name }) : t("Download {name}", { name: f.name }), () => {
      const a = h("a", { href: f.url, target: f.thumbnail_url ? "_blank" : null, rel: "noopener noreferrer", download: f.thumbnail_url ? null : f.name });
      a.addEventListener("click", (ev) => openFile(ev, f, !f.thumbnail_url));
      document.body.append(a);
      a.click();
      a.remove();
    }]);
  }
  items.push([t("Copy link"), () => copyText(`${location.origin}/chats/${m.chat_id}/messages/${m.seq}`, t("Link copied."))]);
  if (mine) items.push([t("Edit"), () => startEdit(m.seq)]);
  if (mine || isAdmin(state.chats.get(m.chat_id))) items.push([t("Delete"), () => deleteMessage(m), "danger"]);
  return items;
}

let menuFor = null; // the message element whose menu is open
function openMenu(m, anchor) {
  const menu = $("msg-menu");
  const li = anchor.closest(".msg");
  menuFor = li;
  menu.replaceChildren(...menuItems(m, anchor).map(([label, act, cls]) => h("button", { type: "button", role: "menuitem", class: cls ?? null, tabindex: "-1",
    onclick: () => { closeMenu(false); act(); } }, label)));
  const r = anchor.getBoundingClientRect();
  menu.hidden = false;
  menu.style.top = Math.min(r.bottom + 4, innerHeight - menu.offsetHeight - 8) + "px";
  menu.style.left = Math.max(8, Math.min(r.right - menu.offsetWidth, innerWidth - menu.offsetWidth - 8)) + "px";
  menu.firstElementChild?.focus();
}

function closeMenu(refocus = true) {
  const menu = $("msg-menu");
  if (menu.hidden) return;
  menu.hidden = true;
  if (refocus && menuFor?.isConnected) focusMessage(menuFor);
  menuFor = null;
}

// focusMessage moves focus to a message (the log's roving focus).
function focusMessage(el) {
  for (const x of $("messages").querySelectorAll(".msg[tabindex='0']")) x.tabIndex = -1;
  el.tabIndex = 0;
  el.focus();
}

async function copyText(text, done) {
  try {
    await navigator.clipboard.writeText(text);
    toast(done);
  } catch {
    toast(text);
  }
}

function replyTo(m) {
  setReply(m);
  $("composer-input").focus();
}

function setReply(m) {
  state.replyTo = m;
  $("reply-bar").hidden = !m;
  $("reply-text").textContent = m ? t("Replying to {who}: {text}", { who: userName(m.sender_id), text: messageText(m).slice(0, 80) }) : "";
}

function renderPending() {
  const list = $("pending-list");
  const mine = [...state.pending.values()].filter((p) => p.chatId === state.open);
  list.replaceChildren(...mine.map((p) => {
    const status = p.status === "failed"
      ? h("span", { class: "status failed" }, t("Not sent: {why}.", { why: p.error }) + " ",
        h("button", { type: "button", class: "link", onclick: () => { p.tries = 0; dispatch(p); } }, t("Retry")), " ",
        h("button", { type: "button", class: "link", onclick: () => { state.pending.delete(p.key); renderPending(); } }, t("Discard")))
      : h("span", { class: "status" }, t("Sending…"));
    return h("li", { class: "msg mine pending" + (p.status === "failed" ? " failed" : ""), dataset: { key: p.key } },
      avatarEl(state.me?.id, "msg-avatar"),
      h("div", { class: "msg-head" }, h("span", { class: "sender" }, t("You")), status),
      p.content ? h("div", { class: "body" }, plainText(p.content, fullName)) : null,
      p.files?.length ? h("div", { class: "attachments" }, p.files.map((f) => h("span", { class: "file" }, "📎 " + f.name))) : null);
  }));
}

// renderSeen shows who has read the user's own last message.
function renderSeen() {
  for (const el of document.querySelectorAll("#messages .seen")) el.remove();
  const id = state.open;
  const s = state.stores.get(id);
  const members = state.members.get(id);
  if (!s || !members || !state.me) return;
  let own = 0;
  for (const [seq, m] of s.bySeq) {
    if (m.sender_id === state.me.id && !m.deleted_at && seq > own && (!s.hasNewer || seq <= s.tail)) own = seq;
  }
  if (!own) return;
  const readers = [...members.values()].filter((x) => x.user_id !== state.me.id && (x.last_read_seq ?? 0) >= own);
  if (!readers.length) return;
  const el = msgEls.get(own)?.el;
  if (!el) return;
  const c = state.chats.get(id);
  const text = c?.type === "direct" ? t("Seen") : t("Seen by {names}", { names: listFmt.format(readers.map((x) => userName(x.user_id))) });
  el.append(h("p", { class: "seen" }, text));
}

function renderTyping() {
  const el = $("typing");
  const m = state.typing.get(state.open);
  const names = [...(m?.keys() ?? [])].map(userName);
  el.textContent = names.length === 0 ? "" : names.length === 1 ? t("{who} is typing…", { who: names[0] })
    : names.length === 2 ? t("{a} and {b} are typing…", { a: names[0], b: names[1] }) : t("Several people are typing…");
}

function scrollToBottom() {
  const sc = $("message-scroll");
  sc.scrollTop = sc.scrollHeight;
}

// ---------------------------------------------------------------- editing and deleting

function startEdit(seq) {
  const m = state.stores.get(state.open)?.bySeq.get(seq);
  const e = msgEls.get(seq);
  if (!m || !e) return;
  state.editing = seq;
  const body = e.el.querySelector(".body");
  const area = h("textarea", { class: "edit-input", rows: 2, "aria-label": t("Edit message") });
  const shown = plainText(m.content, fullName);
  area.value = shown;
  const count = h("span", { class: "count", "aria-live": "polite" });
  area.addEventListener("input", () => countChars(area, count));
  const done = (focusComposer) => {
    state.editing = 0;
    const fresh = messageElement(state.stores.get(m.chat_id)?.bySeq.get(seq) ?? m);
    e.el.replaceWith(fresh);
    e.el = fresh;
    renderMessages({});
    if (focusComposer) $("composer-input").focus();
    else focusMessage(fresh);
  };
  const save = async () => {
    let text = area.value;
    if (!text.trim()) return;
    if ([...text].length > maxChars) {
      toast(t("A message has at most {n} characters.", { n: maxChars }));
      return;
    }
    if (text === shown) return done(true);
    text = encodeMentions(text, mentionPeople(m.chat_id), allowAll(m.chat_id));
    area.disabled = true;
    try {
      const updated = await api.request("PATCH", `/chats/${m.chat_id}/messages/${seq}`, { content: text });
      putMessage(updated);
      done(true);
    } catch (err) {
      area.disabled = false;
      toast(errorText(err));
      area.focus();
    }
  };
  const list = h("ul", { id: `edit-mentions-${seq}`, class: "mention-list", hidden: true });
  const complete = new MentionComplete(area, list, () => completionsFor(m.chat_id));
  area.addEventListener("keydown", (ev) => {
    if (complete.key(ev)) return;
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      save();
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      done(false);
    }
  });
  const form = h("div", { class: "edit" }, list, area,
    h("div", { class: "edit-actions" },
      h("span", { class: "hint" }, t("Enter saves · Esc cancels")), count,
      h("button", { type: "button", onclick: () => done(false) }, t("Cancel")),
      h("button", { type: "button", class: "primary", onclick: save }, t("Save"))));
  body.replaceWith(form);
  e.el.querySelector(".msg-menu-btn")?.remove();
  e.el.querySelector(".msg-react-btn")?.remove();
  e.el.scrollIntoView({ block: "nearest" });
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
}

async function deleteMessage(m) {
  if (!(await confirmDialog(t("Delete this message?"), t("Delete")))) return;
  try {
    await api.request("DELETE", `/chats/${m.chat_id}/messages/${m.seq}`);
    onMessageDeleted({ chat_id: m.chat_id, id: m.id, seq: m.seq });
  } catch (e) {
    toast(errorText(e));
  }
}

// ---------------------------------------------------------------- chat controls

function wireChat() {
  const input = $("composer-input");
  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitComposer();
  });
  const complete = new MentionComplete(input, $("composer-mentions"), () => completionsFor(state.open));
  input.addEventListener("keydown", (ev) => {
    if (complete.key(ev)) return;
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submitComposer();
    } else if (ev.key === "ArrowUp" && !input.value) {
      // Up in an empty composer edits one's last message.
      const s = state.stores.get(state.open);
      let last = 0;
      for (const [seq, m] of s?.bySeq ?? []) if (m.sender_id === state.me?.id && !m.deleted_at && seq > last) last = seq;
      if (last) {
        ev.preventDefault();
        startEdit(last);
      }
    }
  });
  input.addEventListener("input", () => {
    autosize(input);
    renderCount();
    typingInput();
  });
  input.addEventListener("blur", stopTyping);

  // Files: the button, a drop anywhere on the open chat, a paste.
  $("attach-btn").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (ev) => {
    addFiles(ev.currentTarget.files);
    ev.currentTarget.value = "";
    input.focus();
  });
  input.addEventListener("paste", (ev) => {
    const files = ev.clipboardData?.files;
    if (files?.length) {
      ev.preventDefault();
      addFiles(files);
    }
  });
  const pane = $("chat-pane");
  const hasFiles = (ev) => [...(ev.dataTransfer?.types ?? [])].includes("Files");
  let depth = 0;
  pane.addEventListener("dragenter", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth++;
    pane.classList.add("dropping");
  });
  pane.addEventListener("dragover", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "copy";
  });
  pane.addEventListener("dragleave", () => {
    if (--depth <= 0) {
      depth = 0;
      pane.classList.remove("dropping");
    }
  });
  pane.addEventListener("drop", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth = 0;
    pane.classList.remove("dropping");
    addFiles(ev.dataTransfer.files);
    input.focus();
  });
  $("reply-cancel").addEventListener("click", () => {
    setReply(null);
    input.focus();
  });
  $("jump-btn").addEventListener("click", () => {
    scrollToBottom();
    state.unseenBelow = 0;
    renderJump();
    input.focus();
  });

  // The log is one tab stop; arrows move between messages, Enter opens the
  // actions, r replies, e edits, Delete deletes, Escape goes to the composer.
  $("message-scroll").addEventListener("keydown", (ev) => {
    if (ev.target.closest("textarea, #msg-menu, #emoji-picker")) return;
    const msgs = [...$("messages").querySelectorAll(".msg")];
    const cur = ev.target.closest?.(".msg");
    const m = cur && state.stores.get(state.open)?.bySeq.get(Number(cur.dataset.seq));
    const move = (el) => {
      if (!el) return;
      ev.preventDefault();
      focusMessage(el);
      el.scrollIntoView({ block: "nearest" });
    };
    if (ev.key === "ArrowUp") move(cur ? msgs[msgs.indexOf(cur) - 1] : msgs.at(-1));
    else if (ev.key === "ArrowDown") move(cur ? msgs[msgs.indexOf(cur) + 1] : msgs.at(-1));
    else if (ev.key === "Home" && cur) move(msgs[0]);
    else if (ev.key === "End" && cur) move(msgs.at(-1));
    else if (!m || m.deleted_at) return;
    else if (ev.key === "Enter" || ev.key === "ContextMenu" || (ev.key === "F10" && ev.shiftKey)) {
      ev.preventDefault();
      openMenu(m, cur.querySelector(".msg-menu-btn"));
    } else if (ev.key === "r") {
      ev.preventDefault();
      replyTo(m);
    } else if (ev.key === "t") {
      ev.preventDefault();
      openThread(m);
    } else if (ev.key === "+") {
      ev.preventDefault();
      openPicker(m, cur.querySelector(".msg-react-btn"));
    } else if (ev.key === "e" && m.sender_id === state.me?.id) {
      ev.preventDefault();
      startEdit(m.seq);
    } else if (ev.key === "Delete") {
      ev.preventDefault();
      deleteMessage(m);
    } else if (ev.key === "Escape") {
      input.focus();
    }
  });
  $("msg-menu").addEventListener("keydown", (ev) => {
    const items = [...$("msg-menu").querySelectorAll("button")];
    const i = items.indexOf(document.activeElement);
    if (ev.key === "ArrowDown") items[(i + 1) % items.length].focus();
    else if (ev.key === "ArrowUp") items[(i - 1 + items.length) % items.length].focus();
    else if (ev.key === "Home") items[0].focus();
    else if (ev.key === "End") items.at(-1).focus();
    else if (ev.key === "Escape" || ev.key === "Tab") closeMenu();
    else return;
    ev.preventDefault();
  });
  document.addEventListener("pointerdown", (ev) => {
    if (!ev.target.closest("#msg-menu, .msg-menu-btn")) closeMenu(false);
    if (!ev.target.closest("#emoji-picker, .msg-react-btn")) closePicker(false);
  });
  // The emoji picker: a grid of five; the arrows move, Enter or Space
  // toggles, Escape or Tab closes.
  $("emoji-picker").addEventListener("keydown", (ev) => {
    const items = [...$("emoji-picker").querySelectorAll("button")];
    const i = items.indexOf(document.activeElement);
    const go = (j) => items[(j + items.length) % items.length].focus();
    if (ev.key === "ArrowRight") go(i + 1);
    else if (ev.key === "ArrowLeft") go(i - 1);
    else if (ev.key === "ArrowDown") go(i + 5);
    else if (ev.key === "ArrowUp") go(i - 5);
    else if (ev.key === "Home") go(0);
    else if (ev.key === "End") go(-1);
    else if (ev.key === "Escape" || ev.key === "Tab") closePicker();
    else return;
    ev.preventDefault();
  });

  $("message-scroll").addEventListener("scroll", () => {
    const sc = $("message-scroll");
    const s = state.stores.get(state.open);
    if (!s) return;
    if (state.unseenBelow && atBottom()) renderJump();
    if (sc.scrollTop < 80 && s.hasOlder && !s.loading) olderPage();
    if (s.hasNewer && !s.loading && sc.scrollHeight - sc.scrollTop - sc.clientHeight < 80) newerPage();
  });
  $("older-btn").addEventListener("click", olderPage);
  $("newer-btn").addEventListener("click", newerPage);

  document.addEventListener("visibilitychange", () => {
    sendPresence();
    if (document.visibilityState === "visible") markReadIfSeen();
    else stopTyping();
  });

  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    search($("search-input").value.trim());
  });
  $("search-input").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") closeSearch();
  });
  $("search-close").addEventListener("click", closeSearch);
  $("search-more").addEventListener("click", () => searchMore());

  $("join-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    submitting(form, async () => {
      const q = $("join-q").value.trim();
      const r = await api.request("GET", `/chats/public?q=${encodeURIComponent(q)}`);
      renderChannelResults(r.chats);
    });
  });

  for (const d of document.querySelectorAll("dialog")) {
    d.addEventListener("click", (ev) => {
      if (ev.target.closest("[data-close]")) d.close();
    });
  }
  wireNewChat();
  wireMembers();
  wireInvite();
  wireThread();
  wireMentions();
  wireProfile();
}

// renderChannelResults lists public channels with Join (or Open, where the
// user is already a member).
function renderChannelResults(channels) {
  const list = $("channel-results");
  list.replaceChildren();
  if (channels.length === 0) {
    list.append(h("li", { class: "muted" }, t("No public channel matches.")));
    return;
  }
  for (const c of channels) {
    const member = c.role !== null;
    const button = h("button", { type: "button", "aria-label": member ? t("Open {name}", { name: c.name }) : t("Join {name}", { name: c.name }) }, member ? t("Open") : t("Join"));
    button.addEventListener("click", async () => {
      try {
        if (!member) {
          const joined = await api.request("POST", `/chats/${c.id}/join`);
          state.chats.set(joined.id, joined);
          renderChatList();
        }
        list.replaceChildren();
        openChat(c.id);
      } catch (err) {
        $("join-form").querySelector(".error").textContent = err.message;
      }
    });
    list.append(h("li", {}, h("span", {}, "#" + c.name), h("span", { class: "muted" }, ` ${t("{n} members", { n: c.member_count })} `), button));
  }
}

function submitComposer() {
  const input = $("composer-input");
  const text = input.value;
  const files = state.uploads.filter((u) => u.status === "done").map((u) => u.file);
  if (!state.open || (!text.trim() && !files.length)) return;
  if (state.uploads.some((u) => u.status === "uploading")) {
    toast(t("Wait for the uploads to finish."));
    return;
  }
  if ([...text].length > maxChars) {
    // Never cut silently: the counter is red and the text stays.
    renderCount();
    toast(t("A message has at most {n} characters.", { n: maxChars }));
    return;
  }
  input.value = "";
  autosize(input);
  renderCount();
  sendMessage(state.open, text.trim() ? encodeMentions(text, mentionPeople(state.open), allowAll(state.open)) : "", state.replyTo?.id, files);
  clearUploads();
  setReply(null);
  input.focus();
}

// mentionPeople are the chat's members other than the reader, as
// {id, name}: the "@" autocomplete's candidates and the names a sent text
// turns into mentions.
function mentionPeople(chatId) {
  const members = state.members.get(chatId);
  const ids = members ? [...members.keys()] : [];
  return ids.filter((id) => id !== state.me?.id && state.users.has(id))
    .map((id) => ({ id, name: state.users.get(id).fullname }))
    .sort((a, b) => a.name.localeCompare(b.name, locale));
}

// allowAll: "@all" is offered where there are more than two people.
function allowAll(chatId) {
  const c = state.chats.get(chatId);
  return !!c && c.type !== "direct";
}

function completionsFor(chatId) {
  const people = mentionPeople(chatId);
  if (allowAll(chatId)) people.push({ id: 0, name: "all", all: true });
  return people;
}

// ---------------------------------------------------------------- uploads

// addFiles uploads files (from the button, a drop or a paste) for the
// composer; each shows in the tray with its state, and can be removed.
function addFiles(list) {
  const files = [...list];
  if (!state.open || !files.length) return;
  const room = maxAttachments - state.uploads.length;
  if (files.length > room) toast(t("A message carries at most {n} files.", { n: maxAttachments }));
  const chatId = state.open;
  for (const file of files.slice(0, Math.max(0, room))) {
    const u = { key: uuid(), chatId, name: file.name || t("pasted file"), size: file.size, status: "uploading", file: null, error: "", progress: 0 };
    state.uploads.push(u);
    api.upload(file, (p) => {
      u.progress = p;
      const bar = $("upload-tray").querySelector(`[data-key="${u.key}"] progress`);
      if (bar) bar.value = p;
    }).then((f) => {
      u.file = f;
      u.status = "done";
    }).catch((e) => {
      u.status = "failed";
      u.error = errorText(e);
    }).finally(renderUploads);
  }
  renderUploads();
}

function clearUploads() {
  state.uploads = [];
  renderUploads();
}

function renderUploads() {
  const tray = $("upload-tray");
  tray.hidden = state.uploads.length === 0;
  tray.replaceChildren(...state.uploads.map((u) => {
    const thumb = u.file?.thumbnail_url
      ? h("img", { class: "tray-thumb", src: u.file.thumbnail_url, alt: "" })
      : h("span", { class: "tray-thumb tray-icon", "aria-hidden": "true" }, u.status === "uploading" ? "⏳" : "📄");
    const status = u.status === "uploading" ? t("Uploading…") : u.status === "failed" ? t("Not uploaded: {why}", { why: u.error }) : fileSize(u.file.size);
    return h("li", { class: "tray-item" + (u.status === "failed" ? " failed" : ""), dataset: { status: u.status, key: u.key } },
      thumb,
      h("span", { class: "tray-text" }, h("span", { class: "file-name" }, u.name), h("span", { class: "muted" }, status),
        u.status === "uploading" ? h("progress", { max: "1", value: u.progress, "aria-label": t("Uploading {name}", { name: u.name }) }) : null),
      h("button", { type: "button", class: "link", "aria-label": t("Remove {name}", { name: u.name }),
        onclick: () => { state.uploads = state.uploads.filter((x) => x !== u); renderUploads(); $("composer-input").focus(); } }, "✕"));
  }));
}

function renderCount() {
  countChars($("composer-input"), $("composer-count"));
}

// countChars shows "used / limit" once a text nears the limit, in red past it.
function countChars(area, out) {
  const n = [...area.value].length;
  out.textContent = n > maxChars - 500 ? t("{n} / {max}", { n, max: maxChars }) : "";
  out.classList.toggle("over", n > maxChars);
  area.setAttribute("aria-invalid", String(n > maxChars));
}

function autosize(el) {
  el.style.height = "auto";
  el.style.height = Math.min(el.scrollHeight, 200) + "px";
}

async function olderPage() {
  const id = state.open;
  try {
    await loadOlder(id);
  } catch (e) {
    toast(errorText(e));
  }
  if (id === state.open) renderMessages({ keepTop: true });
}

async function newerPage() {
  const id = state.open;
  try {
    await loadNewer(id);
  } catch (e) {
    toast(errorText(e));
  }
  if (id === state.open) {
    renderMessages({});
    markReadIfSeen();
  }
}

// ---------------------------------------------------------------- search

let searchTicket = 0;
async function search(q) {
  if (!q) return;
  const ticket = ++searchTicket;
  if (state.mentions) {
    state.mentions = null;
    $("mentions-panel").hidden = true;
  }
  $("search-panel").hidden = false;
  $("chats-panel").hidden = true;
  $("search-status").textContent = t("Searching…");
  $("search-results").replaceChildren();
  $("search-more").hidden = true;
  state.search = { q, offset: 0, total: 0 };
  await searchMore(ticket);
}

// mentionsWritten writes the mention tokens in highlight nodes out as names.
function mentionsWritten(nodes) {
  for (const n of nodes ?? []) n.textContent = plainText(n.textContent, fullName);
  return nodes;
}

// searchMore fetches the next page of the current search ("Load more").
async function searchMore(ticket = searchTicket) {
  const st = state.search;
  if (!st) return;
  $("search-more").disabled = true;
  let r;
  try {
    r = await api.request("GET", `/search/messages?q=${encodeURIComponent(st.q)}&limit=${searchPage}&offset=${st.offset}`);
  } catch (e) {
    if (ticket === searchTicket) $("search-status").textContent = errorText(e);
    return;
  } finally {
    $("search-more").disabled = false;
  }
  if (ticket !== searchTicket) return;
  const hits = r.hits ?? [];
  st.offset += hits.length;
  const n = Math.max(st.offset, r.estimated_total ?? 0);
  st.total = n;
  $("search-status").textContent = n === 0
    ? t("Nothing found for “{q}”. New messages take a moment to become searchable.", { q: st.q })
    : st.offset < n ? t("{shown} of {n} results", { shown: st.offset, n }) : t("{n} results", { n });
  $("search-more").hidden = hits.length === 0 || st.offset >= n;
  $("search-results").append(...hits.map((hit) => {
    const m = hit.message;
    const text = mentionsWritten(highlightNodes(hit.highlight)) ?? [messageText(m)];
    return h("li", {},
      h("button", { type: "button", class: "hit", onclick: () => openHit(m) },
        h("span", { class: "hit-head" },
          h("span", { class: "hit-chat" }, chatName(state.chats.get(m.chat_id)) || t("Chat {id}", { id: m.chat_id })),
          h("span", { class: "muted" }, `${userName(m.sender_id)} · ${shortTime(m.created_at)}`)),
        h("span", { class: "hit-text" }, text)));
  }));
}

function openHit(m) {
  if (!state.chats.has(m.chat_id)) {
    toast(t("That chat is no longer in your list."));
    return;
  }
  if (!wide() && state.search) closeSearch();
  openChat(m.chat_id, { aroundSeq: m.seq });
}

// closeSearchPanel puts the search results away (for the Mentions view).
function closeSearchPanel() {
  searchTicket++;
  state.search = null;
  $("search-more").hidden = true;
  $("search-panel").hidden = true;
}

function closeSearch() {
  searchTicket++;
  state.search = null;
  $("search-more").hidden = true;
  $("search-panel").hidden = true;
  $("chats-panel").hidden = false;
  $("search-input").focus();
}

// ---------------------------------------------------------------- new chat dialog

function wireNewChat() {
  const dlg = $("new-chat-dialog");
  $("new-chat-btn").addEventListener("click", async () => {
    $("new-chat-form").reset();
    dlg.querySelector(".error").textContent = "";
    try {
      await loadUsers();
    } catch {
      // The list as known.
    }
    renderPeople();
    updateNewChatKind();
    dlg.showModal();
    $("nc-type").focus();
  });
  $("nc-type").addEventListener("change", () => {
    updateNewChatKind();
    renderPeople();
  });
  $("nc-filter").addEventListener("input", () => filterPeople());
  $("new-chat-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    submitting(form, async () => {
      const type = $("nc-type").value;
      const ids = [...form.querySelectorAll("#nc-people input:checked")].map((x) => Number(x.value));
      const body = { type, member_ids: ids };
      if (type === "direct") {
        if (ids.length !== 1) throw new Error(t("Choose one person for a direct message."));
      } else {
        body.name = $("nc-name").value.trim();
        if (!body.name) throw new Error(t("Give the chat a name."));
        const d = $("nc-description").value.trim();
        if (d) body.description = d;
      }
      const chat = await api.request("POST", "/chats", body);
      dlg.close();
      await refreshChat(chat.id);
      openChat(chat.id);
    });
  });
}

function updateNewChatKind() {
  const direct = $("nc-type").value === "direct";
  $("nc-name-row").hidden = direct;
  $("nc-members-legend").textContent = direct ? t("Person") : t("Members");
}

function renderPeople() {
  const direct = $("nc-type").value === "direct";
  const people = [...state.users.values()].filter((u) => u.id !== state.me?.id).sort((a, b) => a.fullname.localeCompare(b.fullname));
  $("nc-people").replaceChildren(...people.map((u) => {
    const id = `nc-u-${u.id}`;
    return h("li", { dataset: { search: `${u.fullname} ${u.email}`.toLowerCase() } },
      h("input", { type: direct ? "radio" : "checkbox", name: "nc-member", id, value: String(u.id) }),
      h("label", { for: id }, u.fullname, h("span", { class: "muted" }, ` ${u.email}`)));
  }));
  if (!people.length) $("nc-people").append(h("li", { class: "muted" }, t("Nobody else is in this workspace yet. Invite someone first.")));
  filterPeople();
}

function filterPeople() {
  const q = $("nc-filter").value.trim().toLowerCase();
  for (const li of $("nc-people").children) {
    if (li.dataset.search) li.hidden = q !== "" && !li.dataset.search.includes(q);
  }
}

// ---------------------------------------------------------------- members dialog

function wireMembers() {
  const dlg = $("members-dialog");
  $("members-btn").addEventListener("click", async () => {
    const id = state.open;
    dlg.querySelector(".error").textContent = "";
    try {
      await Promise.all([loadMembers(id), loadUsers()]);
      await loadPresence([...state.members.get(id).keys()]);
    } catch (e) {
      toast(errorText(e));
      return;
    }
    renderMembersDialog();
    dlg.showModal();
  });
  $("rename-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitting(dlg, async () => {
      const name = $("rename-name").value.trim();
      if (!name) throw new Error(t("A chat needs a name."));
      const c = await api.request("PATCH", `/chats/${state.open}`, { name, description: $("rename-description").value.trim() });
      Object.assign(state.chats.get(c.id) ?? {}, c);
      renderChatList();
      renderChatHeader();
      toast(t("Saved."));
    });
  });
  $("add-members-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitting(dlg, async () => {
      const ids = [...$("add-people").querySelectorAll("input:checked")].map((x) => Number(x.value));
      if (!ids.length) throw new Error(t("Choose someone to add."));
      await api.request("POST", `/chats/${state.open}/members`, { user_ids: ids });
      await loadMembers(state.open);
      await refreshChat(state.open);
      renderMembersDialog();
    });
  });
  $("leave-btn").addEventListener("click", () => {
    submitting(dlg, async () => {
      if (!(await confirmDialog(t("Leave this chat?"), t("Leave chat")))) return;
      const id = state.open;
      await api.request("DELETE", `/chats/${id}/members/${state.me.id}`);
      dlg.close();
      forgetChat(id);
    });
  });
}

function renderMembersDialog() {
  const c = state.chats.get(state.open);
  const members = state.members.get(state.open);
  if (!c || !members) return;
  const admin = isAdmin(c) && c.type !== "direct";
  $("members-title").textContent = t("{chat}: members", { chat: chatName(c) });
  $("rename-form").hidden = !admin;
  if (admin) {
    $("rename-name").value = c.name ?? "";
    $("rename-description").value = c.description ?? "";
  }
  const me = state.me.id;
  const sorted = [...members.values()].sort((a, b) => (b.user_id === me) - (a.user_id === me) || userName(a.user_id).localeCompare(userName(b.user_id)));
  $("member-list").replaceChildren(...sorted.map((m) => {
    const p = state.presence.get(m.user_id);
    const canRemove = admin && m.user_id !== state.me.id && m.role !== "owner";
    return h("li", { class: "member" },
      h("span", { class: "avatar-wrap" }, avatarEl(m.user_id),
        m.user_id !== state.me.id ? presenceDot(m.user_id) : h("span", { class: "dot online", "aria-hidden": "true" })),
      h("span", { class: "member-name" }, m.user_id === state.me.id ? t("{name} (you)", { name: state.me.fullname }) : userName(m.user_id)),
      h("span", { class: "muted" }, [m.role !== "member" ? (m.role === "owner" ? t("owner") : t("admin")) : "", m.user_id !== state.me.id && p ? presenceText(p) : ""].filter(Boolean).join(" · ")),
      canRemove ? h("button", { type: "button", class: "link danger", "aria-label": t("Remove {name}", { name: userName(m.user_id) }), onclick: () => removeMember(m.user_id) }, t("Remove")) : null);
  }));
  const others = [...state.users.values()].filter((u) => !members.has(u.id)).sort((a, b) => a.fullname.localeCompare(b.fullname));
  $("add-members-form").hidden = !admin || others.length === 0;
  $("add-people").replaceChildren(...others.map((u) => {
    const id = `add-u-${u.id}`;
    return h("li", {}, h("input", { type: "checkbox", id, value: String(u.id) }), h("label", { for: id }, u.fullname));
  }));
  $("leave-btn").hidden = c.type === "direct";
}

function removeMember(userId) {
  submitting($("members-dialog"), async () => {
    await api.request("DELETE", `/chats/${state.open}/members/${userId}`);
    await loadMembers(state.open);
    await refreshChat(state.open);
    renderMembersDialog();
  });
}

// ---------------------------------------------------------------- invite dialog

function wireInvite() {
  const dlg = $("invite-dialog");
  $("invite-btn").addEventListener("click", () => {
    $("invite-result").hidden = true;
    dlg.querySelector(".error").textContent = "";
    dlg.showModal();
  });
  $("invite-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitting(ev.currentTarget, async () => {
      const r = await api.request("POST", "/workspace/invites", {
        max_uses: Number($("invite-uses").value) || 1,
        expires_in_hours: Number($("invite-hours").value) || 168,
      });
      $("invite-code").value = r.code;
      $("invite-link").value = inviteLink(r.code);
      $("invite-expires").textContent = t("Good for {n} uses, until {when}.", { n: r.max_uses, when: fullTime(r.expires_at) });
      $("invite-result").hidden = false;
      $("invite-link").select();
      $("invite-link").focus();
    });
  });
  $("invite-copy").addEventListener("click", async () => {
    await copyText($("invite-link").value, t("Invite link copied."));
  });
}

// inviteLink is /join/<code>, with the workspace's name for the form.
function inviteLink(code) {
  return `${location.origin}/join/${encodeURIComponent(code)}?workspace=${encodeURIComponent(state.workspace?.name ?? "")}`;
}

// ---------------------------------------------------------------- title and icon

function titleText() {
  const c = state.chats.get(state.open);
  return c ? `${chatName(c)} · Fechatter` : "Fechatter";
}

// setBadge puts the unread count in the tab's title and its icon.
let badgeShown = -1;
// The title also says how many of them mention the reader: "(3, @1) ...".
let mentionsShown = 0;
function setBadge(unread) {
  const at = unread && mentionsShown ? `, @${mentionsShown}` : "";
  document.title = (unread ? `(${unread}${at}) ` : "") + titleText();
  if (unread === badgeShown) return;
  badgeShown = unread;
  const link = $("favicon");
  if (!unread) {
    link.type = "image/svg+xml";
    link.href = "/icon.svg";
    return;
  }
  const c = document.createElement("canvas");
  c.width = c.height = 64;
  const g = c.getContext("2d");
  if (!g) return;
  g.fillStyle = "#3b5bdb";
  g.beginPath();
  g.roundRect(0, 0, 64, 64, 14);
  g.fill();
  g.fillStyle = "#fff";
  g.font = "bold 40px sans-serif";
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText("F", 26, 34);
  g.fillStyle = "#e03131";
  g.beginPath();
  g.arc(44, 20, 20, 0, 2 * Math.PI);
  g.fill();
  g.fillStyle = "#fff";
  g.font = "bold 26px sans-serif";
  g.fillText(unread > 9 ? "9+" : String(unread), 44, 21);
  link.type = "image/png";
  link.href = c.toDataURL("image/png");
}

// ---------------------------------------------------------------- threads
//
// The thread panel shows a root message and its replies (the replies
// route, oldest first, a page at a time) beside the conversation, or over
// it on a phone. Replies sent here carry reply_to_id = the root; they stay
// in the chat's timeline too. thread.updated keeps the root's reply count
// and last reply time current everywhere.

const replyPage = 50;

function wireThread() {
  $("thread-close").addEventListener("click", () => closeThread(true));
  $("thread-back").addEventListener("click", () => closeThread(true));
  $("thread-more").addEventListener("click", () => loadReplies());
  const input = $("thread-input");
  const complete = new MentionComplete(input, $("thread-mentions"), () => completionsFor(state.thread?.chatId));
  $("thread-composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitThread();
  });
  input.addEventListener("keydown", (ev) => {
    if (complete.key(ev)) return;
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submitThread();
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      closeThread(true);
    }
  });
  input.addEventListener("input", () => autosize(input));
  $("thread-panel").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !ev.target.closest("textarea")) closeThread(true);
  });
}

// openThread shows the thread of m (m itself, or the root m replies in).
async function openThread(m) {
  let root = m;
  if (m.thread_root_id && m.thread_root_id !== m.id) {
    root = [...(state.stores.get(m.chat_id)?.bySeq.values() ?? [])].find((x) => x.id === m.thread_root_id);
    if (!root) {
      toast(t("That message is not loaded; scroll up to find it."));
      return;
    }
  }
  const from = document.activeElement;
  state.thread = { chatId: root.chat_id, root, replies: new Map(), hasMore: false, loading: false, from };
  $("thread-panel").hidden = false;
  $("chat-view").classList.add("with-thread");
  $("thread-input").value = "";
  renderThread();
  $("thread-input").focus();
  await loadReplies();
}

async function loadReplies() {
  const th = state.thread;
  if (!th || th.loading) return;
  th.loading = true;
  const after = Math.max(0, ...th.replies.keys());
  try {
    const r = await api.request("GET", `/chats/${th.chatId}/messages/${th.root.seq}/replies?after_seq=${after}&limit=${replyPage}`);
    if (state.thread !== th) return;
    for (const m of r.messages ?? []) th.replies.set(m.seq, m);
    th.hasMore = r.has_more;
  } catch (e) {
    if (state.thread === th) toast(errorText(e));
  } finally {
    th.loading = false;
  }
  renderThread({ stick: true });
}

function closeThread(refocus) {
  const th = state.thread;
  if (!th) return;
  state.thread = null;
  $("thread-panel").hidden = true;
  $("chat-view").classList.remove("with-thread");
  $("thread-root").replaceChildren();
  $("thread-replies").replaceChildren();
  if (!refocus) return;
  const el = th.from?.isConnected && !th.from.closest("[hidden]") ? th.from : msgEls.get(th.root.seq)?.el;
  if (el?.closest?.("#messages")) focusMessage(el);
  else if (el) el.focus();
  else $("composer-input").focus();
}

function renderThread({ stick = false } = {}) {
  const th = state.thread;
  if (!th) return;
  const sc = $("thread-scroll");
  const atEnd = sc.scrollHeight - sc.scrollTop - sc.clientHeight < 60;
  $("thread-subtitle").textContent = chatName(state.chats.get(th.chatId));
  $("thread-root").replaceChildren(messageElement(th.root, { inThread: true }));
  const n = th.root.reply_count ?? th.replies.size;
  $("thread-count").textContent = t("{n} replies", { n });
  const replies = [...th.replies.values()].sort((a, b) => a.seq - b.seq);
  $("thread-replies").replaceChildren(...replies.map((m) => messageElement(m, { inThread: true })));
  $("thread-more").hidden = !th.hasMore;
  if (stick || atEnd) sc.scrollTop = sc.scrollHeight;
}

function submitThread() {
  const th = state.thread;
  const input = $("thread-input");
  const text = input.value;
  if (!th || !text.trim()) return;
  if ([...text].length > maxChars) {
    toast(t("A message has at most {n} characters.", { n: maxChars }));
    return;
  }
  if (th.root.deleted_at) {
    toast(t("This message was deleted."));
    return;
  }
  input.value = "";
  autosize(input);
  sendMessage(th.chatId, encodeMentions(text, mentionPeople(th.chatId), allowAll(th.chatId)), th.root.id);
  input.focus();
}

// threadMessage puts a new or changed message into the open thread when it
// belongs there.
function threadMessage(m) {
  const th = state.thread;
  if (!th || th.chatId !== m.chat_id) return;
  if (m.id === th.root.id) th.root = m;
  else if (m.thread_root_id === th.root.id) th.replies.set(m.seq, m);
  else return;
  renderThread({ stick: m.sender_id === state.me?.id });
}

// onThreadUpdated keeps a root's reply count and last reply time.
function onThreadUpdated(d) {
  updateCopies(d.chat_id, d.root_seq, (x) => ({ ...x, reply_count: d.reply_count, last_reply_at: d.last_reply_at }));
}

// ---------------------------------------------------------------- mentions view

const mentionPage = 30;

function wireMentions() {
  $("mentions-btn").addEventListener("click", () => openMentions());
  $("mentions-close").addEventListener("click", () => closeMentions());
  $("mentions-more").addEventListener("click", () => loadMentions());
}

async function openMentions() {
  closeSearchPanel();
  state.mentions = { items: [], hasMore: false, loading: false };
  $("mentions-panel").hidden = false;
  $("chats-panel").hidden = true;
  $("mentions-status").textContent = t("Loading…");
  $("mentions-list").replaceChildren();
  $("mentions-close").focus();
  await loadMentions();
}

async function loadMentions() {
  const st = state.mentions;
  if (!st || st.loading) return;
  st.loading = true;
  const last = st.items.at(-1);
  try {
    const r = await api.request("GET", `/mentions?limit=${mentionPage}${last ? `&before_id=${last.id}` : ""}`);
    if (state.mentions !== st) return;
    const seen = new Set(st.items.map((m) => m.id));
    st.items.push(...(r.messages ?? []).filter((m) => !seen.has(m.id)));
    st.hasMore = r.has_more;
  } catch (e) {
    if (state.mentions === st) $("mentions-status").textContent = errorText(e);
    return;
  } finally {
    st.loading = false;
  }
  renderMentions();
}

function renderMentions() {
  const st = state.mentions;
  if (!st) return;
  $("mentions-status").textContent = st.items.length ? "" : t("Nobody has mentioned you yet.");
  $("mentions-more").hidden = !st.hasMore;
  $("mentions-list").replaceChildren(...st.items.map((m) => h("li", {},
    h("button", { type: "button", class: "hit", onclick: () => openHit(m) },
      h("span", { class: "hit-head" },
        h("span", { class: "hit-chat" }, chatName(state.chats.get(m.chat_id)) || t("Chat {id}", { id: m.chat_id })),
        h("span", { class: "muted" }, `${userName(m.sender_id)} · ${shortTime(m.created_at)}`)),
      h("span", { class: "hit-text" }, messageText(m))))));
}

// mentionArrived adds a live mention to the open Mentions view.
function mentionArrived(m) {
  const st = state.mentions;
  if (!st || st.items.some((x) => x.id === m.id)) return;
  st.items.unshift(m);
  renderMentions();
}

function closeMentions() {
  if (!state.mentions) return;
  state.mentions = null;
  $("mentions-panel").hidden = true;
  $("chats-panel").hidden = false;
  $("mentions-btn").focus();
}

// ---------------------------------------------------------------- profile

// The profile dialog changes the reader's name and picture: a picture is
// uploaded when chosen, and both are saved with PATCH /users/me. Others
// see the change live (user.updated).
let profilePic = null; // undefined: unchanged; 0: removed; a File: the new one

function wireProfile() {
  const dlg = $("profile-dialog");
  $("profile-btn").addEventListener("click", () => {
    profilePic = undefined;
    $("profile-name").value = state.me?.fullname ?? "";
    $("profile-file").value = "";
    dlg.querySelector(".error").textContent = "";
    renderProfilePic();
    dlg.showModal();
    $("profile-name").focus();
  });
  $("profile-file").addEventListener("change", (ev) => {
    const file = ev.currentTarget.files?.[0];
    if (!file) return;
    const form = $("profile-form");
    submitting(form, async () => {
      $("profile-pic-status").textContent = t("Uploading…");
      try {
        const f = await api.upload(file);
        if (!f.thumbnail_url) throw new Error(t("Choose an image (PNG, JPEG, GIF or WebP)."));
        profilePic = f;
      } finally {
        $("profile-pic-status").textContent = "";
        renderProfilePic();
      }
    });
  });
  $("profile-choose").addEventListener("click", () => $("profile-file").click());
  $("profile-remove").addEventListener("click", () => {
    profilePic = 0;
    $("profile-file").value = "";
    renderProfilePic();
    $("profile-choose").focus();
  });
  $("profile-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    submitting(form, async () => {
      const body = {};
      const name = $("profile-name").value.trim();
      if (!name) throw new Error(t("Give your full name."));
      if (name !== state.me.fullname) body.fullname = name;
      if (profilePic === 0) body.avatar_file_id = 0;
      else if (profilePic) body.avatar_file_id = profilePic.id;
      if (Object.keys(body).length) onUserUpdated(await api.request("PATCH", "/users/me", body));
      dlg.close();
      toast(t("Saved."));
    });
  });
}

function renderProfilePic() {
  const url = profilePic === 0 ? null : profilePic ? profilePic.thumbnail_url : state.me?.avatar_url;
  const box = $("profile-avatar");
  box.replaceChildren(url ? h("img", { class: "avatar avatar-img avatar-large", src: url, alt: t("Your picture") })
    : h("span", { class: "avatar avatar-large", "aria-hidden": "true" }, initial(state.me?.fullname ?? "?")));
  $("profile-remove").hidden = !url;
}

// onUserUpdated applies a changed user (user.updated, or our own PATCH).
function onUserUpdated(u) {
  if (!u?.id) return;
  if (u.id === state.me?.id) {
    state.me = { ...state.me, ...u };
    renderIdentity();
  }
  putUser(u);
  renderChatList();
  renderOpenChat();
  renderThread();
  if (state.mentions) renderMentions();
}

// sw.js: the service worker. It keeps the application shell (the page,
// its scripts, styles and icons) so the app opens offline or on a bad
// network, and nothing else: API answers and the WebSocket never pass
// through it (messages are never stored by it).
//
// The shell is fetched network first (the server answers 304 when it has
// not changed), so an upgrade is picked up on the next load; the cache is
// the fallback when the network fails.

const cacheName = "fechatter-shell-v2";
const shell = ["/", "/app.js", "/api.js", "/socket.js", "/dom.js", "/rich.js", "/i18n.js", "/i18n-zh.js", "/complete.js", "/emoji.js", "/app.css",
  "/icon.svg", "/icon-192.png", "/icon-512.png", "/manifest.webmanifest"];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(cacheName).then((c) => c.addAll(shell)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== cacheName).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  // Every page route of the app (/, /chats/..., /join/...) is the same page.
  const key = req.mode === "navigate" ? "/" : url.pathname;
  if (!shell.includes(key)) return; // the API, the WebSocket, health: not ours
  ev.respondWith((async () => {
    try {
      const res = await fetch(req);
      if (res.ok) {
        const copy = res.clone();
        caches.open(cacheName).then((c) => c.put(key, copy)).catch(() => {});
      }
      return res;
    } catch (err) {
      const hit = await caches.match(key);
      if (hit) return hit;
      throw err;
    }
  })());
});

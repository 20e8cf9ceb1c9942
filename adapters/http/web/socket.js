// socket.js: the WebSocket to /api/v1/ws, kept open.
//
// It reconnects with exponential backoff and jitter (0.5 s doubling to
// 30 s), at once when the browser comes back online, and is "ready" only
// after the server's hello. A JSON ping every heartbeat interval finds a
// dead connection that the browser has not noticed (a browser cannot see
// the server's ping control frames).

export class Socket {
  // token() resolves to a fresh access token. onFrame(frame) gets every
  // server frame, hello included. onState(state) hears "connecting",
  // "open" or "closed". onRevoked() is called when the server ends the
  // session (close code 4001): no reconnect then.
  constructor({ token, onFrame, onState, onRevoked }) {
    Object.assign(this, { token, onFrame, onState, onRevoked });
    this.ws = null;
    this.ready = false;
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = 0;
    this.beat = 0;
    this.lastFrameAt = 0;
    this.online = () => this.reconnectNow();
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.online);
    this.open();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.online);
    clearTimeout(this.retryTimer);
    clearInterval(this.beat);
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) ws.close(1000, "bye");
  }

  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.open();
  }

  async open() {
    if (this.stopped || this.ws) return;
    this.onState("connecting");
    let token;
    try {
      token = await this.token(this.attempt);
    } catch (e) {
      if (e?.status === 401) return; // the session is over; the page signs out
      this.retry();
      return;
    }
    if (this.stopped || this.ws) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/api/v1/ws?platform=web&access_token=${encodeURIComponent(token)}`);
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (f.type === "hello") {
        this.ready = true;
        this.attempt = 0;
        this.heartbeat(f.data?.heartbeat_interval_ms);
        this.onState("open");
      }
      this.onFrame(f);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      clearInterval(this.beat);
      this.onState("closed");
      if (ev.code === 4001) {
        this.stopped = true;
        this.onRevoked();
        return;
      }
      this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    const base = Math.min(30_000, 500 * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 16);
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  heartbeat(intervalMs) {
    clearInterval(this.beat);
    const every = Math.max(5000, Number(intervalMs) || 25_000);
    this.beat = setInterval(() => {
      const ws = this.ws;
      if (!ws) return;
      if (Date.now() - this.lastFrameAt > 2 * every + 5000) {
        ws.close(4000, "no answer"); // onclose reconnects
        return;
      }
      this.send({ type: "ping" });
    }, every);
  }

  // send writes one frame; false when the socket is not ready (the caller
  // falls back to REST).
  send(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

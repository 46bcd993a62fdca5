// The one WebSocket of the tab (/ws/): connects, pings, reconnects with capped exponential
// backoff and jitter, and after every (re)connect asks for what it missed (`sync`, repeated while
// `has_more`). Frames other than pong and sync.done go to `onFrame`.

const PING_EVERY_MS = 25000;
const PONG_WAIT_MS = 15000; // no pong by then: the connection is dead even if the browser says not
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;
export const CLOSE_LOGGED_OUT = 4401;

export class ChatSocket {
  // url; onFrame(frame); onState(state, {retryInMs}); lastMessageId() -> int; onSynced(); onDown(); onLoggedOut()
  constructor(options) {
    this.options = options;
    this.ws = null;
    this.attempts = 0;
    this.state = "connecting";
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.connect();
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  setState(state, extra = {}) {
    this.state = state;
    this.options.onState(state, extra);
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.options.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.attempts = 0;
      this.setState("syncing");
      this.startPinging();
      this.send({ type: "sync", after: this.options.lastMessageId() });
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.stopPinging();
      this.options.onDown();
      if (event.code === CLOSE_LOGGED_OUT) {
        this.setState("logged-out");
        this.options.onLoggedOut();
        return;
      }
      this.scheduleReconnect();
    });
  }

  receive(frame) {
    if (frame.type === "pong") {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
      return;
    }
    if (frame.type === "sync.done") {
      if (frame.has_more) {
        this.send({ type: "sync", after: frame.last });
      } else {
        this.setState("online");
        this.options.onSynced();
      }
      return;
    }
    this.options.onFrame(frame);
  }

  scheduleReconnect() {
    if (this.retryTimer !== null || this.state === "logged-out") return;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempts);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2)); // "equal jitter"
    this.attempts += 1;
    this.setState("offline", { retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  // Back online or back in view: try at once instead of waiting out the backoff.
  reconnectNow() {
    if (this.state === "offline" && this.retryTimer !== null) this.connect();
  }

  startPinging() {
    this.stopPinging();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: "ping" })) return;
      if (this.pongTimer === null) {
        this.pongTimer = setTimeout(() => {
          this.pongTimer = null;
          if (this.ws) this.ws.close(4000, "no pong");
          // The close event can take long on a dead link: treat the socket as gone now.
          this.dropDeadSocket();
        }, PONG_WAIT_MS);
      }
    }, PING_EVERY_MS);
  }

  dropDeadSocket() {
    if (this.ws === null) return;
    this.ws = null;
    this.stopPinging();
    this.options.onDown();
    this.scheduleReconnect();
  }

  stopPinging() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }
}

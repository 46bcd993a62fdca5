// The wallet page's live balance (templates/coins/wallet.html). The server-rendered balance is
// right without this script; with it, the page keeps a socket to /ws/ open and shows every
// `coins.balance` event (CONTRACT section 7) as it arrives. Reconnects with exponential backoff
// and jitter; pings every 25 s so proxies keep the connection and a dead one is noticed. Events
// sent while the socket was down are lost, so a reconnect reads the balance once over HTTP.
(function () {
  "use strict";

  var PING_MS = 25000;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  // Close codes after which reconnecting cannot help: logged out or password changed (4401).
  var NO_RETRY = { 4401: true, 4403: true };

  var output = document.getElementById("balance");
  if (!output || !("WebSocket" in window)) return;

  var socket = null;
  var pingTimer = null;
  var retryTimer = null;
  var attempts = 0;
  var everOpened = false;

  function show(balance) {
    if (typeof balance !== "number" || !isFinite(balance)) return;
    var text = String(balance);
    if (output.textContent === text) return;
    output.textContent = text;
    output.setAttribute("data-balance", String(balance));
    output.classList.remove("updated");
    // Restart the highlight animation (reading offsetWidth forces a reflow).
    void output.offsetWidth;
    output.classList.add("updated");
  }

  function stopPing() {
    if (pingTimer !== null) window.clearInterval(pingTimer);
    pingTimer = null;
  }

  function scheduleReconnect() {
    if (retryTimer !== null) return;
    var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempts));
    var delay = ceiling / 2 + Math.random() * (ceiling / 2);
    attempts += 1;
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      connect();
    }, delay);
  }

  function refresh() {
    if (!window.fetch) return;
    fetch("/api/v1/coins/wallet", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (body) show(body.balance);
      })
      .catch(function () {});
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + location.host + "/ws/");
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", function () {
      attempts = 0;
      if (everOpened) refresh();
      everOpened = true;
      stopPing();
      pingTimer = window.setInterval(function () {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (frame && frame.type === "coins.balance") show(frame.balance);
    });
    socket.addEventListener("close", function (event) {
      stopPing();
      socket = null;
      if (NO_RETRY[event.code]) return;
      scheduleReconnect();
    });
  }

  // Back from a sleeping laptop or a background tab: reconnect now rather than at the next backoff.
  window.addEventListener("online", function () {
    if (socket === null && retryTimer !== null) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
      attempts = 0;
      connect();
    }
  });

  connect();
})();

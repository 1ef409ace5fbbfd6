// Keeps the customer page's "Sync" card current while a first backfill runs: polls the
// JSON endpoint named on the card and rewrites the few fields that change. Stops polling
// once every backfill is done, so an idle page costs the server nothing.
(function () {
  "use strict";
  var card = document.getElementById("customer-sync");
  if (!card) { return; }
  var url = card.getAttribute("data-progress-url");
  var delay = 2000;

  function text(root, field, value) {
    var el = root.querySelector('[data-field="' + field + '"]');
    if (el) { el.textContent = value; }
  }

  function render(data) {
    data.sources.forEach(function (s) {
      var root = card.querySelector('[data-source="' + s.source + '"]');
      if (!root) { return; }
      var box = root.querySelector('[data-part="backfill"]');
      var b = s.backfill;
      if (box) {
        box.hidden = b.phase === "done" || !s.enabled;
        text(root, "backfill-text", b.text);
      }
      text(root, "stored-total", String(s.stored));
      var success = root.querySelector('[data-field="last-success"]');
      if (success) {
        success.textContent = s.last_success_at ? "" : s.no_success_yet;
        if (s.last_success_at) {
          var moment = document.createElement("time");
          moment.setAttribute("datetime", s.last_success_at);
          moment.title = s.last_success_text;
          moment.textContent = s.last_success_age;
          success.appendChild(moment);
        }
      }
      text(root, "last-run", s.last_pass_text);
      var health = root.querySelector('[data-field="health"]');
      if (health) {
        health.textContent = "";
        var badge = document.createElement("span");
        var failing = s.health === "failing";
        badge.className = "badge " + (s.health === "ok" ? "status-ok" : failing ? "status-bad" : "status-warn");
        badge.textContent = s.health_text;
        health.setAttribute("data-health", s.health);
        health.appendChild(badge);
        if (failing && s.last_run) {
          health.appendChild(document.createTextNode(
            " " + s.last_run.error_message + " (" + s.last_run.error_code + ")"));
        }
      }
    });
    card.setAttribute("data-live", data.live ? "true" : "false");
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        render(data);
        if (data.live) { window.setTimeout(poll, delay); }
      })
      .catch(function () {
        // A passing network or server hiccup: try again, more slowly.
        window.setTimeout(poll, delay * 3);
      });
  }

  if (card.getAttribute("data-live") === "true") { window.setTimeout(poll, delay); }
})();

// A console list's behaviour in the browser (the alert list and the incident queue):
// counts loaded after the page, live updates by polling, "select all", and the custom
// time range shown only when chosen. The page works without it; this only adds what
// needs a script. The table names its live endpoint, the mark it holds (data-since-id)
// and the query parameter the mark travels in (data-mark-param); the banner names what
// it counts (data-one, data-many).
(function () {
  "use strict";

  const table = document.querySelector("table[data-live-url]");
  const banner = document.querySelector("[data-new-banner]");
  const markParam = (table && table.dataset.markParam) || "since_id";
  const keyOf = (row) => row.dataset.alertId || row.dataset.incidentId;

  // A request of this page answered 401: the session has ended (signed out elsewhere, or
  // access taken away). Opening the page again shows the sign-in form and says why.
  function signedIn(response) {
    if (response.status === 401) {
      window.location.reload();
      return Promise.reject(response.status);
    }
    return response;
  }

  // --- counts: a separate request, so a large filter never slows the list itself ---------
  function loadCounts() {
    const holder = document.querySelector("[data-counts-url]");
    if (!holder || !holder.dataset.countsUrl) return;
    fetch(holder.dataset.countsUrl, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(signedIn)
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const template = document.createElement("template");
        template.innerHTML = html.trim();
        const fresh = template.content.firstElementChild;
        if (fresh) holder.replaceWith(fresh);
      })
      .catch(() => {
        holder.removeAttribute("aria-busy");
        holder.querySelectorAll("p.muted").forEach((p) => { p.textContent = "Counts are not available right now."; });
      });
  }

  // --- live updates ------------------------------------------------------------------------
  let pending = 0;
  let polling = false;

  function liveUrl() {
    const url = new URL(table.dataset.liveUrl, window.location.href);
    url.searchParams.set(markParam, table.dataset.sinceId || "0");
    return url;
  }

  function poll() {
    if (polling || document.hidden) return;
    polling = true;
    const askedSince = table.dataset.sinceId;
    fetch(liveUrl(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(signedIn)
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        // The analyst showed the new alerts while this answer was on its way: it counts
        // alerts that are on the page now, so it must not bring the banner back.
        if (table.dataset.sinceId !== askedSince) return;
        pending = data.count;
        if (pending > 0) {
          banner.querySelector("[data-new-text]").textContent =
            pending === 1 ? "1 " + banner.dataset.one + " —" : pending + " " + banner.dataset.many + " —";
          banner.hidden = false;
        }
      })
      .catch(() => {})
      .finally(() => { polling = false; });
  }

  function showNew() {
    const onFirstPage = table.dataset.firstPage === "true";
    fetch(liveUrl(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(signedIn)
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        if (!onFirstPage || data.count > data.shown) {
          // Too many to insert, or the analyst is further down the list: the newest
          // alerts belong on the first page, so go there.
          window.location.assign(table.dataset.firstPageUrl);
          return;
        }
        const body = table.tBodies[0];
        const before = body.getBoundingClientRect().bottom;
        const template = document.createElement("template");
        template.innerHTML = data.rows_html.trim();
        body.querySelectorAll("tr.empty").forEach((row) => row.remove());
        // Rows that left the filter (an incident merged, say) go; rows already shown
        // that changed are replaced where they stand; the others come first.
        const gone = new Set((data.gone || []).map(String));
        const known = new Map();
        Array.from(body.rows).forEach((row) => {
          if (gone.has(keyOf(row))) row.remove();
          else known.set(keyOf(row), row);
        });
        const rows = [];
        template.content.querySelectorAll("tr").forEach((row) => {
          const shown = known.get(keyOf(row));
          if (shown) shown.replaceWith(row);
          else rows.push(row);
        });
        body.prepend(...rows);
        // Keep what was on screen where it was when the list sits above the viewport.
        if (body.getBoundingClientRect().top < 0) {
          window.scrollBy(0, body.getBoundingClientRect().bottom - before);
        }
        table.dataset.sinceId = String(data[markParam]);
        pending = 0;
        banner.hidden = true;
        if (rows.length) {
          const link = rows[0].querySelector("a.alert-link, a.incident-link");
          if (link) link.focus({ preventScroll: true });
        }
      })
      .catch(() => {});
  }

  function startPolling() {
    if (!table || !banner || !table.dataset.liveUrl) return;
    const seconds = Math.max(parseFloat(table.dataset.pollSeconds) || 5, 0.2);
    banner.querySelector("[data-show-new]").addEventListener("click", showNew);
    window.setInterval(poll, seconds * 1000);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  }

  // --- select all ----------------------------------------------------------------------------
  function wireSelectAll() {
    const all = document.getElementById("select-all");
    if (!all || !table) return;
    all.addEventListener("change", () => {
      table.querySelectorAll('td.pick input[type="checkbox"]').forEach((box) => {
        box.checked = all.checked;
      });
    });
  }

  // --- custom time range ---------------------------------------------------------------------
  function wirePeriod() {
    const period = document.getElementById("id_period");
    const range = document.querySelector("[data-custom-range]");
    if (!period || !range) return;
    const sync = () => { range.hidden = period.value !== "custom"; };
    period.addEventListener("change", sync);
    sync();
  }

  loadCounts();
  startPolling();
  wireSelectAll();
  wirePeriod();
})();

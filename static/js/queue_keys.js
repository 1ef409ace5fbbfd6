// Keyboard triage of a console list (the table marked data-keyboard-list): j / k move
// the selection, Enter opens it, x ticks its box, a assigns it to the signed-in analyst
// (through the list's own bulk change, the form #bulk-form), / goes to the search box
// and ? shows these keys. Keys typed into a field stay the field's.
(function () {
  "use strict";

  const table = document.querySelector("table[data-keyboard-list]");
  if (!table) return;
  const me = table.dataset.me || "";
  let current = -1;

  const rows = () => Array.from(table.tBodies[0].rows).filter((row) => row.dataset.alertId || row.dataset.incidentId);

  function status(text) {
    let region = document.getElementById("keyboard-status");
    if (!region) {
      region = document.createElement("p");
      region.id = "keyboard-status";
      region.className = "visually-hidden";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      table.parentElement.before(region);
    }
    region.textContent = text;
  }

  function select(index) {
    const all = rows();
    if (!all.length) return;
    const next = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row) => row.classList.remove("kbd-current"));
    const row = all[next];
    row.classList.add("kbd-current");
    row.setAttribute("aria-current", "true");
    all.forEach((other) => { if (other !== row) other.removeAttribute("aria-current"); });
    row.scrollIntoView({ block: "nearest" });
    current = next;
    const link = row.querySelector("a.alert-link, a.incident-link");
    if (link) status("Row " + (next + 1) + ": " + link.textContent.trim());
  }

  function currentRow() {
    const all = rows();
    return current >= 0 && current < all.length ? all[current] : null;
  }

  function assignToMe(row) {
    const form = document.getElementById("bulk-form");
    const pk = row.dataset.alertId;
    if (!form || !pk || !me) return;
    const data = new FormData();
    data.append("csrfmiddlewaretoken", form.querySelector('input[name="csrfmiddlewaretoken"]').value);
    data.append("alert", pk);
    data.append("assigned_to", me);
    data.append("next", window.location.href);
    row.setAttribute("aria-busy", "true");
    status("Assigning to " + me + "…");
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const doc = new DOMParser().parseFromString(html, "text/html");
        const result = doc.querySelector('#bulk-results tr[data-alert-id="' + pk + '"]');
        const outcome = result ? result.dataset.outcome : "failed";
        if (outcome === "updated" || outcome === "unchanged") {
          row.cells[row.cells.length - 1].textContent = me;
          row.dataset.assigned = me;
          status("Assigned to " + me + ".");
        } else {
          const detail = result ? result.cells[result.cells.length - 1].textContent.trim() : "";
          status("Not assigned: " + (detail || outcome));
          row.dataset.assignFailed = outcome;
        }
      })
      .catch(() => status("Not assigned: the portal did not answer."))
      .finally(() => row.removeAttribute("aria-busy"));
  }

  function help() {
    let panel = document.getElementById("shortcut-help");
    if (!panel) {
      panel = document.createElement("aside");
      panel.id = "shortcut-help";
      panel.className = "shortcut-help";
      panel.setAttribute("aria-label", "Keyboard shortcuts");
      const keys = [
        ["j / k", "next / previous row"],
        ["Enter", "open the row"],
        ["x", "tick or untick the row"],
        ["/", "search"],
        ["?", "show or hide this list"],
      ];
      // Only the alert list assigns from the keyboard (its table names the analyst).
      if (me) keys.splice(3, 0, ["a", "assign the row to me (" + me + ")"]);
      const title = document.createElement("h2");
      title.textContent = "Keyboard shortcuts";
      const list = document.createElement("dl");
      keys.forEach(([key, what]) => {
        const dt = document.createElement("dt");
        const kbd = document.createElement("kbd");
        kbd.textContent = key;
        dt.append(kbd);
        const dd = document.createElement("dd");
        dd.textContent = what;
        list.append(dt, dd);
      });
      panel.append(title, list);
      panel.hidden = true;
      document.body.append(panel);
    }
    panel.hidden = !panel.hidden;
  }

  function typing(target) {
    if (!(target instanceof Element)) return false;
    return Boolean(target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']"));
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const row = currentRow();
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current < 0 ? 0 : current - 1); break;
      case "Enter": {
        // Enter on a focused link or button keeps its own meaning.
        if (!row || event.target.closest("a, button, summary")) return;
        const link = row.querySelector("a.alert-link, a.incident-link");
        if (link) link.click();
        break;
      }
      case "x": {
        if (!row) return;
        const box = row.querySelector('td.pick input[type="checkbox"]');
        if (box) box.checked = !box.checked;
        break;
      }
      case "a": if (row) assignToMe(row); break;
      case "/": {
        const search = document.getElementById("id_q");
        if (search) search.focus();
        break;
      }
      case "?": help(); break;
      case "Escape": {
        const panel = document.getElementById("shortcut-help");
        if (panel) panel.hidden = true;
        return;
      }
      default: return;
    }
    event.preventDefault();
  });
})();

// The hunt page: asks the results endpoint for the customers that answered since the
// last poll and adds their rows (with a customer column) or their failure in words.
// Polling stops once every customer has answered.
(function () {
  "use strict";
  var progress = document.getElementById("hunt-progress");
  if (!progress) { return; }
  var url = progress.getAttribute("data-results-url");
  var table = document.getElementById("hunt-results");
  var head = table.querySelector("thead tr");
  var body = table.querySelector("tbody");
  var failures = document.getElementById("hunt-failures");
  var columns = [];
  var after = 0;
  var rowsShown = 0;

  function cell(tag, value) {
    var el = document.createElement(tag);
    el.textContent = value === null || value === undefined ? "" :
      (typeof value === "object" ? JSON.stringify(value) : String(value));
    if (tag === "th") { el.setAttribute("scope", "col"); }
    return el;
  }

  function addColumns(names) {
    names.forEach(function (name) {
      if (columns.indexOf(name) === -1) {
        columns.push(name);
        head.appendChild(cell("th", name));
        Array.prototype.forEach.call(body.rows, function (row) { row.appendChild(cell("td", "")); });
      }
    });
  }

  function addTarget(t) {
    if (t.status === "failed") {
      document.getElementById("hunt-failures-card").hidden = false;
      var item = document.createElement("li");
      item.setAttribute("data-customer", t.customer);
      item.textContent = t.customer + ": " + t.error;
      failures.appendChild(item);
      return;
    }
    addColumns(t.columns);
    t.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-customer", t.customer);
      tr.appendChild(cell("td", t.customer));
      columns.forEach(function (name) { tr.appendChild(cell("td", row[name])); });
      body.appendChild(tr);
      rowsShown += 1;
    });
    if (t.row_count > t.rows.length) {
      var note = document.createElement("tr");
      var td = cell("td", t.customer + ": " + t.row_count + " rows in all; the CSV export has the first " + t.kept + ".");
      td.colSpan = columns.length + 1;
      note.appendChild(td);
      body.appendChild(note);
    }
    if (rowsShown) {
      table.hidden = false;
      document.getElementById("hunt-empty").hidden = true;
    }
  }

  function poll() {
    fetch(url + "?after=" + after, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        data.finished.forEach(function (t) { addTarget(t); after = Math.max(after, t.seq); });
        progress.textContent = data.done + " of " + data.total + " customers answered" +
          (data.complete ? "; the hunt is complete." : "; waiting for the others…");
        progress.setAttribute("data-complete", data.complete ? "true" : "false");
        if (!data.complete) { window.setTimeout(poll, 1000); }
      })
      .catch(function () {
        progress.textContent = "Lost contact with the portal; trying again…";
        window.setTimeout(poll, 5000);
      });
  }

  poll();
}());

// Alert charts: fetches the figures as JSON and draws them with the vendored Chart.js.
// Colours come from the stylesheet's variables, so the charts follow light and dark mode;
// every chart also has its figures as a table for screen readers and keyboard users. A bar
// that comes with a link (the alert list filtered to what it counts) opens it when clicked,
// and its row in the table links there too.
(function () {
  "use strict";

  const holder = document.getElementById("charts");
  const status = document.getElementById("charts-status");
  if (!holder || !window.Chart) return;

  const css = getComputedStyle(document.documentElement);
  const colour = (name) => css.getPropertyValue(name).trim();
  const SEVERITY_COLOURS = {
    High: colour("--sev-high"),
    Medium: colour("--sev-medium"),
    Low: colour("--sev-low"),
    Informational: colour("--sev-info"),
  };
  window.Chart.defaults.color = colour("--fg");
  window.Chart.defaults.borderColor = colour("--border");
  window.Chart.defaults.font.family = css.fontFamily;

  function table(target, headers, rows, links) {
    const box = holder.querySelector('[data-table="' + target + '"]');
    if (!box) return;
    const t = document.createElement("table");
    const head = t.createTHead().insertRow();
    headers.forEach((text) => {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = text;
      head.appendChild(th);
    });
    const body = t.createTBody();
    rows.forEach((cells, i) => {
      const tr = body.insertRow();
      cells.forEach((text, column) => {
        const cell = tr.insertCell();
        const href = links && links[i] && column === 0 ? links[i] : "";
        if (href) {
          const a = document.createElement("a");
          a.href = href;
          a.textContent = String(text);
          cell.appendChild(a);
        } else {
          cell.textContent = String(text);
        }
      });
    });
    if (!rows.length) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = headers.length;
      td.textContent = "No alerts in this window.";
    }
    box.replaceChildren(t);
  }

  function bucketLabel(iso, unit) {
    // Shown in UTC, as everywhere in the console.
    return unit === "hour" ? iso.slice(5, 13).replace("T", " ") + ":00" : iso.slice(0, 10);
  }

  // Chart.js options that open a bar's link: `linkOf(datasetIndex, index)` gives it or "".
  function clickable(linkOf) {
    return {
      onClick: (event, elements) => {
        const hit = elements[0];
        const href = hit ? linkOf(hit.datasetIndex, hit.index) : "";
        if (href) window.location.assign(href);
      },
      onHover: (event, elements) => {
        const hit = elements[0];
        event.native.target.style.cursor = hit && linkOf(hit.datasetIndex, hit.index) ? "pointer" : "default";
      },
    };
  }

  function bar(id, pairs, label, colourName) {
    const links = pairs.map((p) => p[2] || "");
    new window.Chart(document.getElementById(id), {
      type: "bar",
      data: {
        labels: pairs.map((p) => p[0]),
        datasets: [{ label: label, data: pairs.map((p) => p[1]), backgroundColor: colour(colourName) }],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
        ...clickable((dataset, index) => links[index]),
      },
    });
  }

  function draw(data) {
    const labels = data.over_time.labels.map((iso) => bucketLabel(iso, data.unit));
    const severities = Object.keys(data.over_time.series);
    new window.Chart(document.getElementById("chart-over-time"), {
      type: "bar",
      data: {
        labels: labels,
        datasets: severities.map((name) => ({
          label: name,
          data: data.over_time.series[name],
          backgroundColor: SEVERITY_COLOURS[name] || colour("--muted"),
        })),
      },
      options: {
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        ...clickable((dataset, index) => (data.over_time.links[severities[dataset]] || [])[index] || ""),
      },
    });
    table(
      "over_time",
      [data.unit === "hour" ? "Hour (UTC)" : "Day (UTC)"].concat(severities),
      labels.map((label, i) => [label].concat(severities.map((name) => data.over_time.series[name][i])))
    );
    const pairs = (rows) => rows.map((row) => [row[0], row[1]]);
    const rowLinks = (rows) => rows.map((row) => row[2] || "");
    bar("chart-open-high", data.open_high_by_customer, "Open high-severity alerts", "--sev-high");
    table("open_high_by_customer", ["Customer", "Open high-severity alerts"],
      pairs(data.open_high_by_customer), rowLinks(data.open_high_by_customer));
    bar("chart-categories", data.top_categories, "Alerts", "--accent");
    table("top_categories", ["Category", "Alerts"], pairs(data.top_categories), rowLinks(data.top_categories));
    bar("chart-techniques", data.top_techniques, "Alerts", "--accent");
    table("top_techniques", ["Technique", "Alerts"], pairs(data.top_techniques), rowLinks(data.top_techniques));
  }

  fetch(holder.dataset.src, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
    .then((data) => {
      draw(data);
      holder.removeAttribute("aria-busy");
      status.textContent = "Figures from " + data.start.slice(0, 16).replace("T", " ") + " to " +
        data.end.slice(0, 16).replace("T", " ") + " UTC.";
    })
    .catch(() => {
      holder.removeAttribute("aria-busy");
      status.textContent = "The charts could not be loaded. Reload the page to try again.";
    });
})();

// The alert page while its evidence is fetched from Defender: asks every two seconds how
// the fetch stands (alerts/evidence_on_demand.py) and reloads the page once it is in;
// says so in words when Defender has none or the fetch failed. Gives up after two minutes.
(function () {
  "use strict";

  const note = document.getElementById("evidence-fetch");
  if (!note || !note.dataset.stateUrl) return;
  const url = note.dataset.stateUrl;
  const started = Date.now();

  function ask() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((answer) => {
        if (answer.state === "ready") {
          window.location.reload();
        } else if (answer.state === "failed") {
          note.textContent = "The evidence could not be fetched from Defender: " + answer.words +
            " Open the page again to retry in a few minutes.";
        } else if (answer.state === "none") {
          note.textContent = "Defender reported no evidence for this alert.";
        } else if (Date.now() - started < 120000) {
          window.setTimeout(ask, 2000);
        } else {
          note.textContent = "The evidence has not arrived yet. Reload the page later to see it.";
        }
      })
      .catch(() => {
        note.textContent = "The portal could not be asked about the evidence. Reload the page to try again.";
      });
  }
  window.setTimeout(ask, 1500);
})();

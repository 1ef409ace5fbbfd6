// Filter forms that keep only what was chosen in the URL (form[data-canonical-form]):
// empty inputs are disabled as the form is sent, so a bookmark or shared link names the
// filters that hold a value and nothing else. The server writes its own links the same
// way (`ConsoleFilterForm.link`).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-canonical-form]");
  if (!form || form.method.toLowerCase() !== "get") return;
  const emptied = [];
  Array.from(form.elements).forEach((field) => {
    if (!field.name || field.disabled) return;
    // A field marked data-default (the sort order) is left out when it holds its default.
    const empty = field.tagName === "SELECT" && field.multiple
      ? field.selectedOptions.length === 0
      : (field.type !== "checkbox" && field.type !== "radio" &&
         (String(field.value).trim() === "" || field.value === field.dataset.default));
    if (empty) { field.disabled = true; emptied.push(field); }
  });
  // Enabled again once the browser has read the form (back/forward cache).
  window.setTimeout(() => emptied.forEach((field) => { field.disabled = false; }), 0);
});

// Copy buttons: <button data-copy-target="element-id">. The target is a form field (its
// value is copied) or any element (its text: a hash, a command line). Falls back to
// selecting the text for Ctrl+C.
function selectText(field) {
  if (typeof field.select === "function") {
    field.select();
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(field);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copyTarget);
  if (!field) return;
  const text = "value" in field ? field.value : field.textContent;
  selectText(field);
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (error) {
    document.execCommand("copy");
    button.textContent = "Selected — press Ctrl+C";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 2500);
});

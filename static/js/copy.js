// Copy buttons: <button data-copy-target="input-id">. Falls back to selecting the text.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copyTarget);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
  } catch (error) {
    document.execCommand("copy");
    button.textContent = "Selected — press Ctrl+C";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 2500);
});

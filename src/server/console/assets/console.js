// docward console: the copy buttons of the show-once page. Everything else works without JS.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  const status = button.parentElement.querySelector(".copied");
  try {
    await navigator.clipboard.writeText(text);
    if (status) status.textContent = "Copied.";
  } catch (_) {
    if (source.select) source.select();
    if (status) status.textContent = "Press Ctrl+C (or Cmd+C) to copy the selected text.";
  }
});

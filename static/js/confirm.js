// Forms that ask first: <form data-confirm="Question?">. Sending is stopped unless the
// person agrees. A listener, not an inline onsubmit, so the page's policy allows it.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

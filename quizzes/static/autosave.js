// Saves each answer on the server as soon as it changes, so a reload or a dropped
// connection loses nothing. Without JavaScript the form's buttons save instead.
(function () {
  const form = document.getElementById("attempt-form");
  if (!form || !window.fetch) return;
  const status = document.getElementById("save-status");
  const token = form.querySelector("input[name=csrf_token]").value;
  form.addEventListener("change", function (event) {
    const name = event.target.name || "";
    if (!name.startsWith("q-")) return;
    const qid = name.slice(2);
    const values = Array.from(form.querySelectorAll("input[name='" + CSS.escape(name) + "']:checked"))
      .map(function (input) { return input.value; });
    const responses = {};
    responses[qid] = values;
    status.textContent = "Saving…";
    fetch(form.dataset.autosave, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token},
      body: JSON.stringify({responses: responses}),
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(function (body) {
        status.textContent = response.ok ? "Saved." : (body.error || "Not saved: use Save answers.");
      });
    }).catch(function () {
      status.textContent = "Offline: not saved yet. Your choice stays selected; press Save answers when you are back online.";
    });
  });
})();

// Saves each answer on the server as soon as it changes, so a reload or a dropped
// connection loses nothing. Answers not yet saved are retried when the browser is back
// online. Without JavaScript the form's buttons save instead.
(function () {
  const form = document.getElementById("attempt-form");
  if (!form || !window.fetch) return;
  const status = document.getElementById("save-status");
  const token = form.querySelector("input[name=csrf_token]").value;
  const pending = {};

  function valuesOf(name) {
    return Array.from(form.querySelectorAll("input[name='" + CSS.escape(name) + "']:checked"))
      .map(function (input) { return input.value; });
  }

  function flush() {
    const responses = Object.assign({}, pending);
    if (!Object.keys(responses).length) return;
    status.textContent = "Saving…";
    fetch(form.dataset.autosave, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token},
      body: JSON.stringify({responses: responses}),
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok) {
          Object.keys(responses).forEach(function (qid) {
            if (pending[qid] === responses[qid]) delete pending[qid];
          });
          status.textContent = "Saved.";
        } else {
          status.textContent = body.error || "Not saved: use Save answers.";
        }
      });
    }).catch(function () {
      status.textContent = "Offline: not saved yet. Your choices stay selected and are saved when you are back online.";
    });
  }

  form.addEventListener("change", function (event) {
    const name = event.target.name || "";
    if (!name.startsWith("q-")) return;
    pending[name.slice(2)] = valuesOf(name);
    flush();
  });
  window.addEventListener("online", flush);

  // Time limit: show the time left; when it runs out, submit what is on screen (the server
  // accepts it within its grace period, and grades the saved answers after that).
  const timer = document.getElementById("time-left");
  if (timer && timer.dataset.seconds !== "") {
    const ends = Date.now() + Number(timer.dataset.seconds) * 1000;
    let warned = false;
    const tick = function () {
      const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      timer.textContent = " (" + Math.floor(left / 60) + " min " + String(left % 60).padStart(2, "0") + " s left)";
      if (left <= 60 && !warned) {
        warned = true;
        status.textContent = "One minute left: your answers will be submitted when time runs out.";
      }
      if (left === 0) {
        clearInterval(handle);
        const go = document.createElement("input");
        go.type = "hidden"; go.name = "go"; go.value = "submit";
        form.appendChild(go);
        form.submit();
      }
    };
    const handle = setInterval(tick, 1000);
    tick();
  }
})();

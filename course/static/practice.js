// Practice exercises answer in place: the form posts as usual, asking for JSON, and the
// feedback lands in the form's live region. Without JavaScript the form posts a full page.
(function () {
  "use strict";
  function show(region, data) {
    region.textContent = "";
    var p = document.createElement("p");
    p.className = "mb-0" + (data.error ? " text-danger" : "");
    if (data.error) {
      p.textContent = data.error.message;
    } else {
      var verdict = document.createElement("strong");
      verdict.className = data.correct ? "text-success" : "text-danger";
      verdict.textContent = data.correct ? "Right." : "Not quite.";
      p.appendChild(verdict);
      var text = " " + data.feedback;
      if (data.best && data.best.length) {
        text += " A better answer: \u201c" + data.best.join("\u201d; \u201c") + "\u201d";
      }
      p.appendChild(document.createTextNode(text));
    }
    region.appendChild(p);
  }
  document.querySelectorAll("form[data-practice]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var region = form.querySelector(".practice-feedback");
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.json();
      }).then(function (data) {
        show(region, data);
      }).catch(function () {
        form.submit();  // fall back to the full page rather than lose the answer
      });
    });
  });
})();

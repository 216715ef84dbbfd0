// Live preview in the lesson editor: the server renders and sanitises the Markdown exactly
// as learners get it, so the preview never shows what the lesson page would not.
(function () {
  "use strict";
  var form = document.getElementById("lesson-form");
  var target = document.getElementById("live-preview");
  if (!form || !target) { return; }
  var body = form.querySelector("textarea[name=body]");
  var token = form.querySelector("input[name=csrf_token]");
  var timer = null;
  function refresh() {
    var data = new FormData();
    data.append("body", body.value);
    data.append("csrf_token", token.value);
    fetch(form.dataset.previewUrl, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) { return r.json(); }).then(function (json) {
      if (json.html !== undefined) { target.innerHTML = json.html; }  // sanitised on the server
    }).catch(function () { /* the "Preview without saving" button still works */ });
  }
  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  refresh();
})();

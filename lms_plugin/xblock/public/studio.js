/* Cleared to Post XBlock, Studio editor: saves the settings, shows errors beside the fields. */
function ClearedToPostStudio(runtime, element) {
  var root = element.jquery ? element[0] : element;
  var form = root.querySelector(".ctp-studio-form");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var data = {};
    new FormData(form).forEach(function (value, key) { data[key] = value; });
    fetch(runtime.handlerUrl(root, "studio_submit"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(data)
    }).then(function (r) { return r.json(); }).then(function (result) {
      root.querySelectorAll(".ctp-field-error").forEach(function (span) {
        span.textContent = (result.errors || {})[span.dataset.field] || "";
      });
      if (result.result === "success" && runtime.notify) { runtime.notify("save", {state: "end"}); }
    });
  });
}

/* Cleared to Post XBlock: posts learner actions to the block's JSON handlers. */
function ClearedToPostBlock(runtime, element) {
  var root = element.jquery ? element[0] : element;

  function csrf() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function call(handler, data) {
    return fetch(runtime.handlerUrl(root, handler), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
      body: JSON.stringify(data || {})
    }).then(function (response) { return response.json(); });
  }

  function chosen(scope, name) {
    return Array.prototype.map.call(
      scope.querySelectorAll("input[name='" + name + "']:checked"), function (i) { return i.value; });
  }

  function reload() { window.location.reload(); }

  root.querySelectorAll(".ctp-mark-read").forEach(function (button) {
    button.addEventListener("click", function () {
      call("mark_read", {lesson: button.dataset.lesson}).then(reload);
    });
  });

  root.querySelectorAll(".ctp-practice").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      call("check_practice", {lesson: form.dataset.lesson, id: form.dataset.id,
                              response: chosen(form, "choice")}).then(function (result) {
        var box = form.querySelector(".ctp-feedback");
        var picked = result.chosen && result.chosen.length ? result.feedback[result.chosen[0]] : "";
        box.className = "ctp-feedback " + (result.is_correct ? "correct" : "wrong");
        box.textContent = (result.is_correct ? "Right. " : "Not quite. ") + (picked || result.explanation || "");
      });
    });
  });

  var start = root.querySelector(".ctp-start-quiz");
  if (start) { start.addEventListener("click", function () { call("start_quiz").then(reload); }); }

  var quiz = root.querySelector(".ctp-quiz-form");
  if (quiz) {
    quiz.addEventListener("submit", function (event) {
      event.preventDefault();
      var responses = {};
      quiz.querySelectorAll("fieldset[data-id]").forEach(function (set) {
        responses[set.dataset.id] = chosen(set, "q-" + set.dataset.id);
      });
      call("submit_quiz", {responses: responses}).then(function (result) {
        root.querySelector(".ctp-quiz-result").textContent = result.error ||
          ("Your result: " + result.percent + "%. " + (result.passed ? "Passed." : "Not passed yet."));
        setTimeout(reload, 1500);
      });
    });
  }

  var retry = root.querySelector(".ctp-retry-report");
  if (retry) { retry.addEventListener("click", function () { call("retry_report").then(reload); }); }
}

"""``ClearedToPostBlock``: one training module inside an Open edX course.

Lessons, practice and the quiz are rendered and graded here with ``content_modules`` and
``quizzes.core`` (no Flask, no database of ours). Learner state lives in ``Scope.user_state``;
the grade goes to Open edX with ``runtime.publish(self, "grade", ...)`` and completion through
the completable mixin; on completion the service is told (``POST /api/v1/completions``) so
the certificate is issued and posting rights follow.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from importlib.resources import files

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from web_fragments.fragment import Fragment
from xblock.completable import CompletableXBlockMixin
from xblock.core import XBlock
from xblock.fields import Boolean, Dict, Float, Integer, List, Scope, String

from content_modules.markdown import render_markdown

from . import content

templates = Environment(loader=PackageLoader("lms_plugin.xblock", "templates"),
                        autoescape=select_autoescape(["html"]))


def _asset(name: str) -> str:
    return (files("lms_plugin.xblock") / "public" / name).read_text()


@XBlock.wants("user")
class ClearedToPostBlock(CompletableXBlockMixin, XBlock):
    """A Cleared to Post module: lessons, practice exercises and the graded quiz."""

    display_name = String(display_name="Display name", default="Social media training",
                          scope=Scope.settings)
    module_slug = String(display_name="Module", default="our-policy", scope=Scope.settings,
                         help="The slug of the module to teach (see the module library).")
    pass_mark = Integer(display_name="Pass mark (%)", default=None, scope=Scope.settings,
                        help="Leave empty to use the module's own pass mark.")
    service_url = String(display_name="Service URL", default="", scope=Scope.settings,
                         help="The Cleared to Post address, e.g. https://train.example.com")
    api_key = String(display_name="API key", default="", scope=Scope.settings,
                     help="An organisation key with the completions:write scope.")
    weight = Float(display_name="Weight", default=1.0, scope=Scope.settings)

    lessons_read = List(default=[], scope=Scope.user_state)
    quiz_seed = Integer(default=None, scope=Scope.user_state)
    quiz_ids = List(default=[], scope=Scope.user_state)  # the open attempt's questions
    attempts_used = Integer(default=0, scope=Scope.user_state)
    last_attempt_at = String(default="", scope=Scope.user_state)  # ISO time, for the cooldown
    best_percent = Float(default=None, scope=Scope.user_state)
    passed = Boolean(default=False, scope=Scope.user_state)
    last_result = Dict(default={}, scope=Scope.user_state)
    completed = Boolean(default=False, scope=Scope.user_state)
    reported = Boolean(default=False, scope=Scope.user_state)
    report_error = String(default="", scope=Scope.user_state)
    certificate_url = String(default="", scope=Scope.user_state)

    has_score = True
    icon_class = "problem"

    # -- helpers ------------------------------------------------------------------------------
    @property
    def module(self):
        return content.module(self.module_slug)

    def max_score(self) -> float:
        return 100.0

    def learner_id(self) -> str:
        """Open edX's anonymous id for this learner (stable, reveals no name or e-mail)."""
        anonymous = getattr(self.runtime, "anonymous_student_id", None)
        service = self.runtime.service(self, "user") if not anonymous else None
        if service is not None:
            user = service.get_current_user()
            anonymous = (getattr(user, "opt_attrs", None) or {}).get(
                "edx-platform.anonymous_user_id")
        if not anonymous:
            # Runtimes without anonymous ids (the SDK): a digest of the runtime's user id.
            raw = f"{self.scope_ids.user_id}"
            anonymous = hashlib.sha256(raw.encode()).hexdigest()[:32]
        return str(anonymous)

    def _summary(self) -> dict:
        mod = self.module
        lessons = [lesson.slug for lesson in mod.lessons] if mod else []
        allowed = content.attempts_allowed(mod) if mod else None
        retry = content.retry_at(mod, self.last_attempt_at) if mod and not self.passed else None
        return {
            "retry_at": retry.isoformat(timespec="minutes") if retry else None,
            "lessons_read": [s for s in lessons if s in self.lessons_read],
            "lessons_total": len(lessons),
            "attempts_used": self.attempts_used,
            "attempts_left": None if allowed is None else max(0, allowed - self.attempts_used),
            "best_percent": self.best_percent, "passed": self.passed,
            "completed": self.completed, "reported": self.reported,
            "report_error": self.report_error, "certificate_url": self.certificate_url,
        }

    def _all_lessons_read(self) -> bool:
        return {lesson.slug for lesson in self.module.lessons} <= set(self.lessons_read)

    def _maybe_complete(self) -> None:
        has_quiz = bool(self.module.questions)
        if self.completed or not self._all_lessons_read() or (has_quiz and not self.passed):
            return
        self.completed = True
        self.emit_completion(1.0)
        if not has_quiz:
            self.runtime.publish(self, "grade", {"value": 100.0, "max_value": 100.0})
        self._report()

    def _report(self) -> None:
        if not self.service_url or not self.api_key:
            self.report_error = ("This block is not connected to Cleared to Post yet: ask "
                                 "the course team to set the service URL and API key.")
            return
        try:
            answer = content.report_completion(self.service_url, self.api_key, {
                "learner_id": self.learner_id(), "module": self.module_slug,
                "score": self.best_percent if self.best_percent is not None else 100.0,
            })
        except content.ReportFailed as exc:
            self.report_error = f"Your completion could not be sent yet: {exc}. Try again."
            return
        self.reported = True
        self.report_error = ""
        url = str(answer.get("certificate_url") or "")
        self.certificate_url = url if url.startswith(("https://", "http://")) else ""

    # -- views --------------------------------------------------------------------------------
    def student_view(self, context=None):
        mod = self.module
        questions = []
        if mod and self.quiz_ids and self.quiz_seed is not None:
            questions = content.public_questions(mod, self.quiz_ids, self.quiz_seed)
        lessons = []
        if mod:
            for lesson in mod.lessons:
                practice = [content.public_questions_for_practice(item) for item in
                            lesson.practice] if lesson.practice else []
                lessons.append({"slug": lesson.slug, "title": lesson.title,
                                "minutes": lesson.minutes,
                                "body": Markup(render_markdown(lesson.body)),  # noqa: S704 - sanitised by render_markdown
                                "practice": practice})
        html = templates.get_template("student.html").render(
            block=self, module=mod, lessons=lessons, questions=questions,
            summary=self._summary(),
            pass_mark=content.pass_mark(mod, self.pass_mark) if mod else None,
            question_count=(mod.quiz.get("questions", len(mod.questions))
                            if mod and mod.quiz else 0))
        fragment = Fragment(html)
        fragment.add_css(_asset("block.css"))
        fragment.add_javascript(_asset("block.js"))
        fragment.initialize_js("ClearedToPostBlock")
        return fragment

    def studio_view(self, context=None):
        html = templates.get_template("studio.html").render(
            block=self, modules=sorted(content.modules().values(), key=lambda m: m.slug))
        fragment = Fragment(html)
        fragment.add_javascript(_asset("studio.js"))
        fragment.initialize_js("ClearedToPostStudio")
        return fragment

    # -- handlers -----------------------------------------------------------------------------
    @XBlock.json_handler
    def mark_read(self, data, suffix=""):
        mod = self.module
        slug = str((data or {}).get("lesson", ""))
        if mod is None or mod.lesson(slug) is None:
            return {"error": f"There is no lesson {slug!r} in this module."}
        if slug not in self.lessons_read:
            self.lessons_read = [*self.lessons_read, slug]
        self._maybe_complete()
        return self._summary()

    @XBlock.json_handler
    def check_practice(self, data, suffix=""):
        data = data or {}
        item = content.practice_item(self.module, str(data.get("lesson", "")),
                                     str(data.get("id", ""))) if self.module else None
        if item is None:
            return {"error": "That exercise is not in this module."}
        return content.check_practice(item, data.get("response", []))

    @XBlock.json_handler
    def start_quiz(self, data, suffix=""):
        mod = self.module
        if mod is None or not mod.questions:
            return {"error": "This module has no quiz."}
        if self.passed:
            return {"error": "You have passed this quiz already.", **self._summary()}
        allowed = content.attempts_allowed(mod)
        if allowed is not None and self.attempts_used >= allowed:
            return {"error": "You have used every attempt for this quiz.", **self._summary()}
        retry = content.retry_at(mod, self.last_attempt_at)
        if retry is not None and not self.quiz_ids:
            wait = max(1, round((retry - content.now()).total_seconds() / 60))
            return {"error": f"Review the lessons first: you can try again in {wait} "
                             f"minute{'s' if wait != 1 else ''} "
                             f"({retry.strftime('%H:%M')} UTC).", **self._summary()}
        if not self.quiz_ids:
            self.quiz_seed, self.quiz_ids, _ = content.new_attempt(mod)
        return {"questions": content.public_questions(mod, self.quiz_ids, self.quiz_seed),
                **self._summary()}

    @XBlock.json_handler
    def submit_quiz(self, data, suffix=""):
        mod = self.module
        if mod is None or not self.quiz_ids:
            return {"error": "Start the quiz first."}
        responses = (data or {}).get("responses") or {}
        if not isinstance(responses, dict):
            return {"error": "Answers must be sent as {question id: [choices]}."}
        mark = content.pass_mark(mod, self.pass_mark)
        result = content.score(mod, self.quiz_ids, responses, mark)
        self.attempts_used += 1
        self.last_attempt_at = content.now().isoformat()
        self.quiz_ids, self.quiz_seed = [], None
        self.best_percent = max(self.best_percent or 0.0, result.percent)
        self.passed = self.passed or result.passed
        self.last_result = {"percent": result.percent, "passed": result.passed,
                            "wrong": [qid for qid, g in result.per_question.items()
                                      if not g.correct]}
        # Open edX keeps the grade it is given: send the best so a retry never lowers it.
        self.runtime.publish(self, "grade", {"value": self.best_percent, "max_value": 100.0})
        self._maybe_complete()
        review = [{"id": qid, "prompt": content.questions_by_id(mod)[qid]["prompt"],
                   "explanation": content.explain(content.questions_by_id(mod)[qid])
                   .get("explanation", "")} for qid in self.last_result["wrong"]]
        return {"percent": result.percent, "passed": result.passed, "pass_mark": mark,
                "review": review, **self._summary()}

    @XBlock.json_handler
    def retry_report(self, data, suffix=""):
        if self.completed and not self.reported:
            self._report()
        return self._summary()

    @XBlock.json_handler
    def studio_submit(self, data, suffix=""):
        data = data or {}
        errors = {}
        slug = str(data.get("module_slug", "")).strip()
        if content.module(slug) is None:
            errors["module_slug"] = f"There is no module {slug!r}: choose one from the list."
        mark = str(data.get("pass_mark", "")).strip()
        if mark and (not mark.isdigit() or not 0 <= int(mark) <= 100):
            errors["pass_mark"] = "The pass mark is a whole number from 0 to 100, or empty."  # noqa: S105 - a message, not a secret
        url = str(data.get("service_url", "")).strip().rstrip("/")
        parts = urllib.parse.urlsplit(url)
        if url and (parts.scheme not in ("http", "https") or not parts.netloc):
            errors["service_url"] = "Give the service's full address, e.g. https://train.example.com"
        key = str(data.get("api_key", "")).strip()
        if url and not key and not self.api_key:
            errors["api_key"] = "Paste an API key with the completions:write scope."
        if errors:
            return {"result": "error", "errors": errors}
        self.display_name = str(data.get("display_name") or self.display_name).strip()[:200]
        self.module_slug = slug
        self.pass_mark = int(mark) if mark else None
        self.service_url = url
        if key:  # an empty box keeps the stored key (it is never shown back)
            self.api_key = key
        return {"result": "success"}

    @staticmethod
    def workbench_scenarios():
        return [
            ("Cleared to Post: our policy (quiz)",
             '<cleared_to_post module_slug="our-policy" '
             'service_url="http://127.0.0.1:5000"/>'),
            ("Cleared to Post: disclosure and accounts (not connected to a service)",
             '<cleared_to_post module_slug="disclosure-and-accounts"/>'),
        ]

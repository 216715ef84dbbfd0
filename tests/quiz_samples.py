"""A question of every type, with secrets easy to search for in pages and responses."""

from __future__ import annotations

QUESTIONS = [
    {"id": "sc", "type": "single_choice", "tags": ["confidentiality"],
     "prompt": "Which post about the roadmap is fine?",
     "options": [
         {"text": "Nothing until it is announced.", "correct": True, "feedback": "SECRET-FB-sc-0"},
         {"text": "A teaser about Q3.", "correct": False, "feedback": "SECRET-FB-sc-1"},
         {"text": "A photo of the slide.", "correct": False, "feedback": "SECRET-FB-sc-2"},
     ],
     "explanation": "SECRET-EXPL-sc"},
    {"id": "mr", "type": "multiple_response", "tags": ["disclosure"], "partial_credit": True,
     "prompt": "Which of these need a disclosure?",
     "options": [
         {"text": "Praising our product", "correct": True, "feedback": "SECRET-FB-mr-0"},
         {"text": "Sharing our job ad", "correct": True, "feedback": "SECRET-FB-mr-1"},
         {"text": "A holiday photo", "correct": False, "feedback": "SECRET-FB-mr-2"},
         {"text": "A cat video", "correct": False, "feedback": "SECRET-FB-mr-3"},
     ],
     "explanation": "SECRET-EXPL-mr"},
    {"id": "tf", "type": "true_false", "tags": ["disclosure"],
     "prompt": "You should say you work here when praising our product.",
     "answer": True, "feedback_true": "SECRET-FB-tf-0", "feedback_false": "SECRET-FB-tf-1",
     "explanation": "SECRET-EXPL-tf"},
    {"id": "sp", "type": "spot_the_problem", "tags": ["confidentiality"],
     "prompt": "Which parts of this draft break the policy?",
     "segments": [
         {"text": "Loving the new office!", "problem": False, "feedback": "SECRET-FB-sp-0"},
         {"text": "Q3 revenue is up 40%.", "problem": True, "feedback": "SECRET-FB-sp-1"},
         {"text": "Join us!", "problem": False, "feedback": "SECRET-FB-sp-2"},
     ],
     "explanation": "SECRET-EXPL-sp"},
    {"id": "br", "type": "best_reply", "tags": ["tone"],
     "prompt": "Which reply has the right tone?",
     "comment": "Your app lost my data. Worst company ever.",
     "options": [
         {"text": "Sorry to hear that; please DM us so we can fix it.", "correct": True,
          "feedback": "SECRET-FB-br-0"},
         {"text": "Works fine for everyone else.", "correct": False, "feedback": "SECRET-FB-br-1"},
         {"text": "Read the manual.", "correct": False, "feedback": "SECRET-FB-br-2"},
     ],
     "explanation": "SECRET-EXPL-br"},
]

BY_ID = {q["id"]: q for q in QUESTIONS}


def right_answer(question: dict) -> list[str]:
    if question["type"] == "true_false":
        return ["0" if question["answer"] else "1"]
    items = question.get("options") or question.get("segments")
    return [str(i) for i, item in enumerate(items) if item.get("correct") or item.get("problem")]


def wrong_answer(question: dict) -> list[str]:
    if question["type"] == "true_false":
        return ["1" if question["answer"] else "0"]
    items = question.get("options") or question.get("segments")
    return [str(i) for i, item in enumerate(items)
            if not (item.get("correct") or item.get("problem"))][:1]

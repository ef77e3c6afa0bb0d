"""Report nodes: exactly what an anonymous report would store, and the user's yes or no."""

from __future__ import annotations

from bot.engine.answers import match_choice
from bot.engine.conversation import ISO_DATE, Option, Question, Report, State
from bot.engine.moves import Go, Move
from bot.engine.reply import Reply
from bot.flows.model import Ask, Bundle, Choice, Field, ReportStep


def preview(reply: Reply, state: State, here: ReportStep) -> Question:
    """Exactly what would be stored, in words, and the question whether to store it."""
    lines = [reply.render(here.intro, state)]
    for field, values in _answers(reply.bundle, here, state):
        lines.append(f"- {reply.render(field.label, state)}: "
                     f"{reply.show(field.slot, values, state.slots)}")
    incident, reported = _months(reply, here, state)
    if incident:
        lines.append(f"- {reply.system('report_incident_month')}: {incident}")
    lines.append(f"- {reply.system('report_report_month')}: {reported}")
    lines.append(reply.system("report_question"))
    options = (Option(1, "yes", reply.system("report_yes")),
               Option(2, "no", reply.system("report_no")))
    return Question("\n".join(lines), state.here.flow, state.here.node, options, False,
                    "choice", reply.system("choose_hint"))


def answer(reply: Reply, state: State, here: ReportStep, text: str) -> Move:
    said = match_choice(_yes_no(reply.bundle), text)
    if said is None:
        return reply.not_understood(state)
    return _decided(reply, state, here, said == "yes")


def pick(reply: Reply, state: State, here: ReportStep, choice: str) -> Move | None:
    """The yes or no button; None for any other."""
    if choice not in ("yes", "no"):
        return None
    return _decided(reply, state, here, choice == "yes")


def _decided(reply: Reply, state: State, here: ReportStep, confirmed: bool) -> Go:
    if confirmed:
        answers = [(field.slot, v) for field, values in _answers(reply.bundle, here, state)
                   for v in values]
        incident, reported = _months(reply, here, state)
        flow = reply.bundle.flows[state.here.flow]
        reply.out.append(Report(flow.id, flow.version, tuple(answers), incident, reported))
        reply.say(reply.system("report_saved"))
    else:
        reply.say(reply.system("report_not_saved"))
    # Forget the answers either way: afterwards the state cannot tell whether one was made.
    erased = {f.slot for f in here.fields}
    slots = {k: v for k, v in state.slots.items() if k not in erased}
    history = tuple(u for u in state.history if u.slot not in erased)
    return Go(State(state.lang, state.frames, slots, history), here.next)


def _answers(bundle: Bundle, here: ReportStep, state: State
             ) -> list[tuple[Field, tuple[str, ...]]]:
    """The answers a report would hold: only values the flows offer as choices now, never a
    renamed choice or typed text kept across a content update."""
    answers = []
    for field in here.fields:
        value = state.slots.get(field.slot)
        known = bundle.choice_labels.get(field.slot, {})
        values = tuple(v for v in (value if isinstance(value, tuple) else (value,))
                       if v is not None and v in known)
        if values:
            answers.append((field, values))
    return answers


def _months(reply: Reply, here: ReportStep, state: State) -> tuple[str | None, str]:
    """The incident's month and the report's month, YYYY-MM: never a day, never a time."""
    start = state.slots.get(here.month) if here.month else None
    incident = start[:7] if isinstance(start, str) and ISO_DATE.match(start) else None
    return incident, reply.now.strftime("%Y-%m")


def _yes_no(bundle: Bundle) -> Ask:
    """The report's yes/no as a question, so that answers are understood like any other."""
    def label(key: str) -> dict[str, str]:
        return {lang: bundle.text(key, lang) for lang in bundle.languages}

    return Ask(id="report", question=label("report_question"), slot="report", choices=(
        Choice("yes", label("report_yes"), {"de": ("ja", "speichern"), "en": ("yes", "save")}),
        Choice("no", label("report_no"), {"de": ("nein",), "en": ("no",)}),
    ))

"""Ask and Input nodes: how the question is shown, and how an answer to it is taken."""

from __future__ import annotations

from bot.engine.answers import DateError, match_choice, match_choices, parse_date
from bot.engine.commands import is_skip
from bot.engine.conversation import Option, Question, SlotValue, State, remember
from bot.engine.moves import Go, Move, Show
from bot.engine.reply import Reply
from bot.flows.model import Ask, Input


def ask(reply: Reply, state: State, here: Ask) -> Question:
    options = tuple(Option(i + 1, c.id, reply.render(c.label, state))
                    for i, c in enumerate(here.choices))
    hint = reply.system("choose_multiple_hint" if here.multiple else "choose_hint")
    return Question(reply.render(here.question, state), state.here.flow, state.here.node,
                    options, here.multiple, "choice", hint)


def choose(reply: Reply, state: State, here: Ask, text: str) -> Move:
    chosen: SlotValue
    chosen = match_choices(here, text) if here.multiple else match_choice(here, text)
    if not chosen:
        return reply.not_understood(state, here.unmatched)
    return _chosen(state, here, chosen)


def pick(reply: Reply, state: State, here: Ask, choice: str) -> Move | None:
    """A button of this question; None when it is none of its choices."""
    if here.choice(choice) is None:
        return None
    return _chosen(state, here, (choice,) if here.multiple else choice)


def _chosen(state: State, here: Ask, chosen: str | tuple[str, ...]) -> Go:
    """Keep the answer and follow the (first) chosen choice's links, else the node's."""
    first = chosen[0] if isinstance(chosen, tuple) else chosen
    choice = here.choice(first)
    assert choice is not None
    return Go(remember(state, here.slot, chosen), choice.next or here.next)


def prompt(reply: Reply, state: State, here: Input) -> Question:
    hint = reply.system("skip_hint") if here.optional else ""
    return Question(reply.render(here.question, state), state.here.flow, state.here.node, (),
                    False, here.kind, hint, here.optional)


def fill_in(reply: Reply, state: State, here: Input, text: str) -> Move:
    value: str | None
    if here.optional and is_skip(text):
        value = None
    elif here.kind == "date":
        try:
            value = parse_date(text, reply.now).isoformat()  # today in German time
        except DateError as err:
            reply.say(reply.system(err.text_key))
            return Show(state)
    else:
        value = _storable(text.strip())
        if not value:
            reply.say(reply.system("empty_answer"))
            return Show(state)
    return Go(remember(state, here.slot, value), here.next)


def _storable(text: str) -> str:
    """Typed text as valid Unicode: JSON from a platform may carry a lone surrogate ("\\ud800"),
    which no UTF-8 encoder stores; it becomes U+FFFD, so the state can always be saved."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text

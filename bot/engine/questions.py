"""Ask and Input nodes: how the question is shown, and how an answer to it is taken."""

from __future__ import annotations

from bot.engine.answers import (
    DateError,
    match_choice,
    match_choices,
    parse_date,
    parse_numbers,
)
from bot.engine.commands import is_skip
from bot.engine.conversation import Option, Question, SlotValue, State, remember
from bot.engine.moves import Go, Move, Show
from bot.engine.reply import Reply
from bot.engine.understanding import read_slot
from bot.flows.model import MISSED_SLOT, Ask, Input, Link
from bot.flows.words import normalize

SKIP = "_on"
"""The id of the extra answer a question offers after a miss: go on without an answer."""


def ask(reply: Reply, state: State, here: Ask) -> Question:
    options = tuple(Option(i + 1, c.id, reply.render(c.label, state))
                    for i, c in enumerate(here.choices))
    if _missed(state) and here.next:
        options = (*options, Option(len(options) + 1, SKIP, reply.system("reask_skip")))
    hint = reply.system("choose_multiple_hint" if here.multiple else "choose_hint")
    return Question(reply.render(here.question, state), state.here.flow, state.here.node,
                    options, here.multiple, "choice", hint)


def choose(reply: Reply, state: State, here: Ask, text: str) -> Move:
    """A typed answer: a number or a choice's words; else what a sentence says about this
    question (its choices' cues, negation and all); else a kind word and the question again,
    and after a second miss the flow goes on without this answer."""
    chosen: SlotValue
    chosen = match_choices(here, text) if here.multiple else match_choice(here, text)
    if not chosen or not _exact(here, text):
        read = tuple(v for v in read_slot(reply.bundle, here.slot, text) if here.choice(v))
        if read:
            chosen = read if here.multiple else read[0]
    if chosen:
        return _chosen(state, here, chosen)
    return _miss(reply, state, here, text)


def _exact(here: Ask, text: str) -> bool:
    """Numbers, or the whole text one choice's words: nothing for a reading to add."""
    said = normalize(text)
    return (parse_numbers(text, len(here.choices)) is not None
            or any(said in c.phrases for c in here.choices))


def _miss(reply: Reply, state: State, here: Ask, text: str) -> Move:
    way_on = here.next or _on_miss_links(here)
    count = len(here.choices)
    skip_number = _missed(state) and parse_numbers(text, count + 1) == [count]
    if here.next and (skip_number or is_skip(text) or normalize(text) in _skip_words(reply)):
        return _go_on(reply, state, here.next)
    if _missed(state) and way_on:
        return _go_on(reply, state, way_on)
    if here.unmatched is not None:
        reply.say(reply.render(here.unmatched, state))
    else:
        hint = reply.system("reask_skip_hint") if here.next else ""
        reply.say(" ".join(t for t in (reply.system("reask"), hint) if t))
    if not way_on:
        return Show(state)  # nowhere to go on to: asked again, kindly, as often as it takes
    key = f"{state.here.flow}.{state.here.node}"
    return Show(State(state.lang, state.frames, {**state.slots, MISSED_SLOT: key},
                      state.history))


def _on_miss_links(here: Ask) -> tuple[Link, ...]:
    choice = here.choice(here.on_miss) if here.on_miss else None
    return choice.next if choice is not None else ()


def _go_on(reply: Reply, state: State, links: tuple[Link, ...]) -> Go:
    """On without an answer: the slot stays empty, and `back` returns to the question."""
    reply.say(reply.system("reask_moved_on"))
    return Go(remember(_unmissed(state), MISSED_SLOT, None), links)


def _missed(state: State) -> bool:
    return state.slots.get(MISSED_SLOT) == f"{state.here.flow}.{state.here.node}"


def _unmissed(state: State) -> State:
    if MISSED_SLOT not in state.slots:
        return state
    slots = {k: v for k, v in state.slots.items() if k != MISSED_SLOT}
    return State(state.lang, state.frames, slots, state.history)


def _skip_words(reply: Reply) -> frozenset[str]:
    return frozenset(normalize(w) for w in reply.system("reask_skip_words").split(","))


def pick(reply: Reply, state: State, here: Ask, choice: str) -> Move | None:
    """A button of this question; None when it is none of its choices."""
    if choice == SKIP and here.next:
        return _go_on(reply, state, here.next)
    if here.choice(choice) is None:
        return None
    return _chosen(state, here, (choice,) if here.multiple else choice)


def _chosen(state: State, here: Ask, chosen: str | tuple[str, ...]) -> Go:
    """Keep the answer and follow the (first) chosen choice's links, else the node's."""
    first = chosen[0] if isinstance(chosen, tuple) else chosen
    choice = here.choice(first)
    assert choice is not None
    return Go(remember(_unmissed(state), here.slot, chosen), choice.next or here.next)


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

"""The conversation engine: `step(bundle, state, event, now) -> Turn(state, outputs)`.

Pure and synchronous, like h11's state machine: no I/O, no clock (time comes in as `now`), no
platform types. Everything that decides what Lotse says next lives here, so every channel
behaves the same and the engine can be walked through every path of every flow in a test.
A state of None means "no conversation": a new one starts, or the old one was ended.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bot.dates import LOCAL, format_date
from bot.engine.answers import DateError, match_choice, match_choices, parse_date, parse_numbers
from bot.engine.commands import Command, is_done, is_print, is_skip, parse_command
from bot.engine.conversation import (
    HISTORY_LIMIT,
    CardLabels,
    ChecklistView,
    ContactCard,
    Contacts,
    Document,
    Ended,
    Event,
    Frame,
    Option,
    Output,
    Picked,
    Question,
    Reminders,
    Reopen,
    Report,
    Resume,
    Say,
    SlotValue,
    Start,
    State,
    Tick,
    Undo,
)
from bot.engine.deadlines import period_end
from bot.engine.reminder_times import due_time
from bot.flows.model import (
    CAN_REMIND_SLOT,
    OPENED_BY_REMINDER_SLOT,
    REMINDER_DATE_SLOT,
    REMINDER_SLOT,
    WAITING,
    AllOf,
    AnyOf,
    Ask,
    Bundle,
    Call,
    Checklist,
    Choice,
    Condition,
    ContactList,
    Deadline,
    DocumentStep,
    End,
    Field,
    Input,
    Link,
    Not,
    Remind,
    ReportStep,
    SlotAnswered,
    SlotIs,
    Step,
    Text,
)
from bot.flows.texts import fill, is_plain

MAX_AUTOMATIC_STEPS = 200
"""More automatic steps than this in one turn means a runaway flow: stop it."""
MAX_CALL_DEPTH = 8
MAX_TEXT = 4000
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
@dataclass(frozen=True, slots=True)
class Turn:
    state: State | None
    outputs: tuple[Output, ...]


class _Runaway(Exception):
    """A flow ran too many automatic steps or called too deep: stopped, never looped."""


def step(bundle: Bundle, state: State | None, event: Event, now: dt.datetime,
         can_remind: bool = False) -> Turn:
    """One turn. `can_remind`: the channel can send on its own, so reminders may be offered."""
    turn = _Turn(bundle, now, can_remind)
    try:
        new_state = turn.handle(state, event)
    except _Runaway:
        lang = turn.lang or bundle.default_language
        return Turn(None, (Say(bundle.text("internal_error", lang)), Ended()))
    return Turn(new_state, tuple(turn.out))


class _Turn:
    """One turn's work: collects outputs while computing the next state."""

    def __init__(self, bundle: Bundle, now: dt.datetime, can_remind: bool = False) -> None:
        self.bundle = bundle
        self.now = now
        self.can_remind = can_remind
        self.out: list[Output] = []
        self.lang = ""

    # --- texts ---------------------------------------------------------------------------

    def system(self, key: str, **params: str) -> str:
        text = self.bundle.text(key, self.lang)
        if is_plain(text):
            return text
        return fill(text, lambda name: params.get(name, ""))

    def render(self, text: Text, state: State | None) -> str:
        chosen = text[self.lang]
        if is_plain(chosen):
            return chosen
        slots = state.slots if state else {}
        return fill(chosen, lambda name: self.show(name, slots.get(name), slots))

    def show(self, slot: str, value: SlotValue,
             slots: Mapping[str, SlotValue] | None = None) -> str:
        """An answer as words: a choice's label, a date in the local style, or the text.
        A label is shown as its option is (`{{` as one brace, its placeholders filled from
        `slots`, one level deep)."""
        if value is None:
            return "–"
        labels = self.bundle.choice_labels.get(slot, {})
        values = value if isinstance(value, tuple) else (value,)
        shown = []
        known = slots or {}
        for v in values:
            if v in labels:
                label = labels[v][self.lang]
                shown.append(label if is_plain(label)
                             else fill(label, lambda name: self.show(name, known.get(name))))
            elif slot in self.bundle.date_slots and _ISO_DATE.match(v):
                shown.append(self.date(dt.date.fromisoformat(v)))
            else:
                shown.append(v)
        return ", ".join(shown)

    def date(self, day: dt.date) -> str:
        return format_date(day, self.lang)

    def say(self, text: str) -> None:
        if text:
            self.out.append(Say(text))

    # --- the turn ------------------------------------------------------------------------

    def handle(self, state: State | None, event: Event) -> State | None:
        hint = event.lang
        if state is not None and not self.valid(state):
            self.lang = self.bundle.pick_language(
                state.lang if state.lang in self.bundle.languages else hint)
            self.say(self.system("flow_changed"))
            flow = state.frames[0].flow
            return self.begin(flow if flow in self.bundle.flows else None)
        if state is not None:
            state = self.fitted(state)
        self.lang = state.lang if state else self.bundle.pick_language(hint)
        if isinstance(event, Start):
            if event.lang in self.bundle.languages:
                self.lang = event.lang
            # A deep link or a web page may name any flow: an unknown one starts the default.
            return self.begin(event.flow if event.flow in self.bundle.flows else None)
        if isinstance(event, Resume):
            return self.cmd_start(state, None)
        if isinstance(event, Picked):
            return self.picked(state, event)
        if isinstance(event, Reopen):
            return self.reopen(state, event)
        if len(event.text) > MAX_TEXT:
            # Refused before it is read: no command is this long, and reading a megabyte
            # would hold up every other conversation for a tenth of a second.
            self.say(self.system("too_long"))
            return self.again(state)
        command = parse_command(event.text)
        if command is not None:
            return self.command(state, *command)
        if state is None:
            return self.begin(None)
        return self.answer(state, event.text)

    def valid(self, state: State) -> bool:
        """A stored state fits the flows loaded now: content may have changed meanwhile, and
        a damaged row must not carry typed words into an answer that reports count."""
        frames = state.frames
        if state.lang not in self.bundle.languages or len(frames) > MAX_CALL_DEPTH:
            return False
        for index, frame in enumerate(frames):
            flow = self.bundle.flows.get(frame.flow)
            node = flow.nodes.get(frame.node) if flow else None
            if index == len(frames) - 1:
                if not isinstance(node, WAITING):
                    return False
            elif not isinstance(node, Call) or node.flow != frames[index + 1].flow:
                return False
        return True

    def fitted(self, state: State) -> State:
        """The state without the answers the flows loaded now cannot give: a choice or item
        the content no longer has, a slot no question fills any more, typed words where a
        choice belongs or an impossible date (a damaged row). They count as never given, the
        other answers stay, and nothing unfit reaches a condition, a document or a report."""
        changed = False
        slots: dict[str, SlotValue] = {}
        for slot, value in state.slots.items():
            kept = self.fit(slot, value)
            if kept is not value:
                changed = True
            if kept is not _Unfit.UNFIT:
                slots[slot] = kept
        return dataclasses.replace(state, slots=slots) if changed else state

    def fit(self, slot: str, value: SlotValue) -> SlotValue | _Unfit:
        """`value` if the flows loaded now can give it in `slot`, the part of a multiple
        answer they can give, or UNFIT."""
        known = self.bundle.slot_values
        if slot not in known:
            return _Unfit.UNFIT
        if value is None:
            return value  # skipped
        allowed = known[slot]
        if isinstance(value, tuple):
            kept = tuple(one for one in value if self.fits(slot, allowed, one))
            return value if len(kept) == len(value) else kept or _Unfit.UNFIT
        return value if self.fits(slot, allowed, value) else _Unfit.UNFIT

    def fits(self, slot: str, allowed: frozenset[str] | None, one: object) -> bool:
        """One answer: among `allowed`, or else a real date or a storable text."""
        if not isinstance(one, str):
            return False
        if allowed is not None:
            return one in allowed
        if slot in self.bundle.date_slots:
            return _is_date(one)
        return 0 < len(one) <= MAX_TEXT

    def begin(self, flow_id: str | None) -> State | None:
        flow = self.bundle.flows[flow_id or self.bundle.default_flow]
        slots = {CAN_REMIND_SLOT: "yes"} if self.can_remind else {}
        return self.advance(State(self.lang, (Frame(flow.id, flow.start),), slots))

    def reopen(self, state: State | None, event: Reopen) -> State | None:
        """A reminder opens its flow. Answers of a conversation still kept in that flow stay
        (a supervisor's ticks); anything else starts afresh."""
        if event.lang in self.bundle.languages:
            self.lang = event.lang
        flow = self.bundle.flows.get(event.flow)
        if flow is None:  # the content changed since the reminder was set
            return self.begin(None)
        kept = state is not None and any(frame.flow == flow.id for frame in state.frames)
        slots = dict(state.slots) if state is not None and kept else {}
        slots.update({CAN_REMIND_SLOT: "yes", OPENED_BY_REMINDER_SLOT: "yes",
                      REMINDER_SLOT: event.reminder})
        if event.date:
            slots[REMINDER_DATE_SLOT] = event.date
        node = event.node if event.node is not None and event.node in flow.nodes else flow.start
        if node != flow.start:
            self.say(self.system("reminder_intro"))  # a flow's own start says what it is
        return self.advance(State(self.lang, (Frame(flow.id, node),), slots))

    def node(self, frame: Frame) -> Step:
        return self.bundle.flows[frame.flow].nodes[frame.node]

    # --- moving through the flow ---------------------------------------------------------

    def advance(self, state: State) -> State | None:
        """Run automatic nodes until one waits for the user, or the conversation ends."""
        for _ in range(MAX_AUTOMATIC_STEPS):
            here = self.node(state.here)
            if isinstance(here, WAITING):
                return self.prompt(state, full=True)
            if here.say is not None:
                self.show_say(here, state)
            if isinstance(here, ContactList):
                self.out.append(self.contacts(here.contacts))
            elif isinstance(here, DocumentStep):
                state = self.document(here, state)
            elif isinstance(here, Deadline):
                state = self.deadline(here, state)
            elif isinstance(here, Remind):
                self.remind(here, state)
            elif isinstance(here, Call):
                if len(state.frames) >= MAX_CALL_DEPTH:
                    raise _Runaway
                called = self.bundle.flows[here.flow]
                state = State(state.lang, (*state.frames, _frame(called.id, called.start)),
                              state.slots, state.history)
                continue
            elif isinstance(here, End):
                if len(state.frames) == 1:
                    self.out.append(Ended())
                    return None
                state = State(state.lang, state.frames[:-1], state.slots, state.history)
                here = self.node(state.here)
            state = self.go(state, here.next)
        raise _Runaway

    def go(self, state: State, links: tuple[Link, ...]) -> State:
        for link in links:
            if link.condition is None or holds(link.condition, state):
                frames = (*state.frames[:-1], _frame(state.here.flow, link.target))
                return State(state.lang, frames, state.slots, state.history)
        raise _Runaway  # the checker demands an else link; this is a content bug

    def question(self, here: Ask | Input, state: State | None, flow: str,
                 node: str) -> Question:
        if isinstance(here, Ask):
            options = _fixed_options(here, self.lang) or tuple(
                Option(i + 1, c.id, self.render(c.label, state))
                for i, c in enumerate(here.choices))
            hint = self.system("choose_multiple_hint" if here.multiple else "choose_hint")
            return Question(self.render(here.question, state), flow, node, options,
                            here.multiple, "choice", hint)
        hint = self.system("skip_hint") if here.optional else ""
        return Question(self.render(here.question, state), flow, node, (), False, here.kind,
                        hint, here.optional)

    def prompt(self, state: State, full: bool) -> State:
        """Show the waiting node: its message too when `full`, only the question when not."""
        here = self.node(state.here)
        if full and here.say is not None:
            self.show_say(here, state)
        flow, node = state.here.flow, state.here.node
        if isinstance(here, (Ask, Input)):
            # A question whose words show no answer is the same on every turn: built once.
            questions = _fixed(self.bundle).questions
            key = (here, self.lang, flow, node)
            if key not in questions:
                questions[key] = (self.question(here, None, flow, node)
                                  if _shows_no_answer(here, self.lang) else None)
            self.out.append(questions[key] or self.question(here, state, flow, node))
        elif isinstance(here, ReportStep):
            self.out.append(self.report_preview(here, state))
        elif isinstance(here, Checklist):
            ticked = state.slots.get(here.slot) or ()
            ticks = _fixed(self.bundle).ticks
            at = (here, self.lang)
            pairs = ticks.get(at)
            if pairs is None:
                pairs = ticks[at] = _fixed_ticks(here, self.lang)
            items = tuple(
                Tick(i + 1, item.id, self.render(item.text, state), item.id in ticked)
                if pair is None else pair[item.id in ticked]
                for i, (item, pair) in enumerate(zip(here.items, pairs, strict=True)))
            progress = self.system("checklist_progress", done=str(sum(t.done for t in items)),
                                   total=str(len(items)))
            self.out.append(ChecklistView(self.render(here.title, state), flow, node, items,
                                          progress, self.system("checklist_hint")))
        return state

    def show_say(self, here: Step, state: State) -> None:
        """A node's message; one that shows no answer is the same Say on every turn."""
        fixed = _fixed_say(here, self.lang)
        if fixed is None:
            assert here.say is not None
            self.say(self.render(here.say, state))
        elif fixed.text:
            self.out.append(fixed)

    def contacts(self, ids: tuple[str, ...]) -> Contacts:
        cards = _fixed(self.bundle).contacts
        key = (ids, self.lang)
        found = cards.get(key)
        if found is None:
            found = cards[key] = self.build_contacts(ids)
        return found

    def build_contacts(self, ids: tuple[str, ...]) -> Contacts:
        cards = []
        for cid in ids:
            c = self.bundle.contacts[cid]
            cards.append(ContactCard(c.id, c.name[self.lang], c.phone, c.web, c.email,
                                     c.hours[self.lang] if c.hours else None,
                                     c.note[self.lang] if c.note else None,
                                     self.date(c.checked)))
        labels = CardLabels(self.system("card.phone"), self.system("card.web"),
                            self.system("card.email"), self.system("card.hours"),
                            self.system("card.checked"))
        return Contacts(tuple(cards), labels)

    def deadline(self, here: Deadline, state: State) -> State:
        """Set the slot to the period's end, or clear it when the start date was skipped."""
        start = state.slots.get(here.start)
        slots = dict(state.slots)
        if isinstance(start, str) and _ISO_DATE.match(start):
            slots[here.slot] = period_end(dt.date.fromisoformat(start), here.months,
                                          here.region).isoformat()
        else:
            slots.pop(here.slot, None)
        return State(state.lang, state.frames, slots, state.history)

    def remind(self, here: Remind, state: State) -> None:
        """Hand the chosen reminders to the service with their due times (or end them all)."""
        if here.stop:
            self.stop_reminders()
            return
        if state.slots.get(CAN_REMIND_SLOT) != "yes":
            return  # no channel to deliver them: the flow's own branch should not get here
        chosen = state.slots.get(here.slot) if here.slot else None
        wanted = set(chosen) if isinstance(chosen, tuple) else {chosen}
        items = []
        for item in here.items:
            if here.slot is None or item.id in wanted:
                due = due_time(item, state.slots, self.now)
                if due is not None:
                    items.append((f"{state.here.flow}.{item.id}", due))
        if items:
            self.out.append(Reminders(tuple(items), self.lang))
            self.say(self.system("reminders_set",
                                 items=reminder_lines(self.bundle, items, self.lang)))

    def document(self, here: DocumentStep, state: State) -> State:
        fields = tuple((self.render(f.label, state),
                        self.show(f.slot, state.slots[f.slot], state.slots))
                       for f in here.fields if state.slots.get(f.slot) is not None)
        title = self.render(here.title, state)
        self.out.append(Document(title, here.file, fields, self.now, self.lang))
        self.say(self.system("document_ready", title=title))
        if not here.erase:
            return state
        erased = {f.slot for f in here.fields} & self.bundle.free_text_slots
        slots = {k: v for k, v in state.slots.items() if k not in erased}
        # The undo history may hold earlier versions of the typed answers: drop it all.
        return State(state.lang, state.frames, slots, ())

    # --- answers -------------------------------------------------------------------------

    def answer(self, state: State, text: str) -> State | None:
        here = self.node(state.here)
        if isinstance(here, Ask):
            return self.choose(state, here, text)
        if isinstance(here, Input):
            return self.fill_in(state, here, text)
        if isinstance(here, ReportStep):
            answer = match_choice(_yes_no(self.bundle), text)
            if answer is None:
                return self.not_understood(state)
            return self.report(state, here, answer == "yes")
        assert isinstance(here, Checklist)
        return self.tick(state, here, text)

    def choose(self, state: State, here: Ask, text: str) -> State | None:
        chosen: SlotValue
        chosen = match_choices(here, text) if here.multiple else match_choice(here, text)
        if not chosen:
            return self.not_understood(state, here.unmatched)
        return self.chosen(state, here, chosen)

    def chosen(self, state: State, here: Ask, chosen: str | tuple[str, ...]) -> State | None:
        first = chosen[0] if isinstance(chosen, tuple) else chosen
        choice = here.choice(first)
        assert choice is not None
        state = self.remember(state, here.slot, chosen)
        return self.advance(self.go(state, choice.next or here.next))

    def fill_in(self, state: State, here: Input, text: str) -> State | None:
        value: str | None
        if here.optional and is_skip(text):
            value = None
        elif here.kind == "date":
            try:
                value = parse_date(text, self.now.date()).isoformat()
            except DateError as err:
                self.say(self.system("future_date" if err.reason == "future" else
                                     "invalid_date"))
                return self.prompt(state, full=False)
        else:
            value = _storable(text.strip())
            if not value:
                self.say(self.system("empty_answer"))
                return self.prompt(state, full=False)
        state = self.remember(state, here.slot, value)
        return self.advance(self.go(state, here.next))

    def tick(self, state: State, here: Checklist, text: str) -> State | None:
        ticked = tuple(state.slots.get(here.slot) or ())
        if is_print(text):
            # The list as it stands, to print or to keep: every item, done or still open.
            fields = tuple((self.render(item.text, state), self.system(
                "checklist_item_done" if item.id in ticked else "checklist_item_open"))
                for item in here.items)
            title = self.render(here.title, state)
            self.out.append(Document(title, "checkliste" if self.lang == "de" else "checklist",
                                     fields, self.now, self.lang))
            self.say(self.system("document_ready", title=title))
            return self.prompt(state, full=False)
        if is_done(text):
            state = self.remember(state, here.slot, ticked)
            return self.advance(self.go(state, here.next))
        numbers = parse_numbers(text, len(here.items))
        if numbers is None:
            return self.not_understood(state)
        toggled = set(ticked) ^ {here.items[n].id for n in set(numbers)}
        # In the list's order (a tick of an item a content update removed is gone already:
        # see fitted).
        state = self.remember(state, here.slot, tuple(i.id for i in here.items if i.id in toggled))
        return self.prompt(state, full=False)

    def report_preview(self, here: ReportStep, state: State) -> Question:
        """Exactly what would be stored, in words, and the question whether to store it."""
        lines = [self.render(here.intro, state)]
        for field, values in self.report_answers(here, state):
            lines.append(f"- {self.render(field.label, state)}: "
                         f"{self.show(field.slot, values, state.slots)}")
        incident, reported = self.report_months(here, state)
        if incident:
            lines.append(f"- {self.system('report_incident_month')}: {incident}")
        lines.append(f"- {self.system('report_report_month')}: {reported}")
        lines.append(self.system("report_question"))
        options = (Option(1, "yes", self.system("report_yes")),
                   Option(2, "no", self.system("report_no")))
        return Question("\n".join(lines), state.here.flow, state.here.node, options, False,
                        "choice", self.system("choose_hint"))

    def report_answers(self, here: ReportStep, state: State
                       ) -> list[tuple[Field, tuple[str, ...]]]:
        """The answers a report would hold: only values the flows offer as choices now.

        A conversation kept across a content update may hold a renamed choice or, where a
        question changed its type, typed text: neither may be shown as stored, nor stored.
        """
        answers = []
        for field in here.fields:
            value = state.slots.get(field.slot)
            known = self.bundle.choice_labels.get(field.slot, {})
            values = tuple(v for v in (value if isinstance(value, tuple) else (value,))
                           if v is not None and v in known)
            if values:
                answers.append((field, values))
        return answers

    def report_months(self, here: ReportStep, state: State) -> tuple[str | None, str]:
        """The incident's month and the report's month, YYYY-MM: never a day, never a time."""
        start = state.slots.get(here.month) if here.month else None
        incident = start[:7] if isinstance(start, str) and _ISO_DATE.match(start) else None
        return incident, self.now.strftime("%Y-%m")

    def report(self, state: State, here: ReportStep, confirmed: bool) -> State | None:
        if confirmed:
            answers = [(field.slot, v) for field, values in self.report_answers(here, state)
                       for v in values]
            incident, reported = self.report_months(here, state)
            flow = self.bundle.flows[state.here.flow]
            self.out.append(Report(flow.id, flow.version, tuple(answers), incident, reported))
            self.say(self.system("report_saved"))
        else:
            self.say(self.system("report_not_saved"))
        # Forget the answers either way: afterwards the state cannot tell whether one was made.
        erased = {f.slot for f in here.fields}
        slots = {k: v for k, v in state.slots.items() if k not in erased}
        history = tuple(u for u in state.history if u.slot not in erased)
        state = State(state.lang, state.frames, slots, history)
        return self.advance(self.go(state, here.next))

    def not_understood(self, state: State, instead: Text | None = None) -> State:
        """The question again, after the general words or the question's own (`unmatched`)."""
        self.say(self.render(instead, state) if instead is not None
                 else self.system("not_understood"))
        return self.prompt(state, full=False)

    def remember(self, state: State, slot: str, value: SlotValue) -> State:
        """Set a slot, keeping what `back` needs to take it back."""
        undo = (Undo(state.frames, slot, state.slots[slot]) if slot in state.slots
                else Undo(state.frames, slot))
        history = (*state.history, undo)[-HISTORY_LIMIT:]
        return State(state.lang, state.frames, {**state.slots, slot: value}, history)

    def picked(self, state: State | None, event: Picked) -> State | None:
        if state is None:
            return self.begin(None)
        here = self.node(state.here)
        if (isinstance(here, Ask) and (event.flow, event.node) == (state.here.flow,
                                                                   state.here.node)
                and here.choice(event.choice) is not None):
            return self.chosen(state, here, (event.choice,) if here.multiple else event.choice)
        if (isinstance(here, ReportStep) and (event.flow, event.node) == (state.here.flow,
                                                                          state.here.node)
                and event.choice in ("yes", "no")):
            return self.report(state, here, event.choice == "yes")
        self.say(self.system("stale_button"))
        return self.prompt(state, full=False)

    # --- commands ------------------------------------------------------------------------

    def command(self, state: State | None, command: Command, arg: str | None) -> State | None:
        handlers: dict[Command, Callable[[State | None, str | None], State | None]] = {
            Command.START: self.cmd_start,
            Command.HELP: self.cmd_help,
            Command.BACK: self.cmd_back,
            Command.RESTART: self.cmd_restart,
            Command.EMERGENCY: self.cmd_emergency,
            Command.LANGUAGE: self.cmd_language,
            Command.STOP: self.cmd_stop,
            Command.FORGET: self.cmd_forget,
            Command.STATS: self.cmd_stats,
            Command.REMINDERS: self.cmd_reminders,
        }
        return handlers[command](state, arg)

    def again(self, state: State | None) -> State | None:
        """Ask the current question again (after a command or a refusal), or begin."""
        return self.prompt(state, full=False) if state else self.begin(None)

    def cmd_start(self, state: State | None, _: str | None) -> State | None:
        if state is None:
            return self.begin(None)
        self.say(self.system("resume"))
        return self.prompt(state, full=True)

    def cmd_help(self, state: State | None, _: str | None) -> State | None:
        self.say(self.system("help"))
        return self.again(state)

    def cmd_back(self, state: State | None, _: str | None) -> State | None:
        if state is None:
            return self.begin(None)
        if not state.history:
            self.say(self.system("back_nothing"))
            return self.prompt(state, full=False)
        undo = state.history[-1]
        slots = dict(state.slots)
        if undo.had_value:
            slots[undo.slot] = undo.previous
        else:
            slots.pop(undo.slot, None)
        restored = State(state.lang, undo.frames, slots, state.history[:-1])
        if not self.valid(restored):
            self.say(self.system("back_nothing"))
            return self.prompt(state, full=False)
        self.say(self.system("back_done"))
        return self.prompt(self.fitted(restored), full=True)

    def cmd_restart(self, state: State | None, _: str | None) -> State | None:
        self.say(self.system("restarted"))
        return self.begin(state.frames[0].flow if state else None)

    def cmd_emergency(self, state: State | None, _: str | None) -> State | None:
        self.say(self.system("emergency"))
        ids = tuple(c.id for c in self.bundle.contacts.values() if "emergency" in c.topics)
        self.out.append(self.contacts(ids))
        if state is None:
            return self.begin(None)
        self.say(self.system("continue_after_emergency"))
        return self.prompt(state, full=False)

    def cmd_language(self, state: State | None, arg: str | None) -> State | None:
        languages = self.bundle.languages
        if arg is None:
            lang = languages[(languages.index(self.lang) + 1) % len(languages)]
        elif arg in languages:
            lang = arg
        else:
            names = " / ".join(f"{self.bundle.text('language_name', code)} ({code})"
                               for code in languages)
            self.say(names)
            return self.again(state)
        self.lang = lang
        self.say(self.system("language_switched"))
        if state is None:
            return self.begin(None)
        return self.prompt(State(lang, state.frames, state.slots, state.history), full=True)

    def cmd_stop(self, state: State | None, _: str | None) -> State | None:
        if state is not None and state.slots.get(OPENED_BY_REMINDER_SLOT) == "yes":
            self.stop_reminders()  # "stop" in answer to a reminder ends the reminders too
        self.say(self.system("stopped"))
        self.out.append(Ended())
        return None

    def cmd_stats(self, state: State | None, _: str | None) -> State | None:
        """Statistics are for admins, answered by the service; everyone else learns nothing."""
        self.say(self.system("stats_refused"))
        return self.again(state)

    def cmd_reminders(self, state: State | None, arg: str | None) -> State | None:
        """"erinnerungen stopp" ends them; the list itself comes from the service, which keeps
        them, so a channel without reminders lands here."""
        if arg == "stop":
            self.stop_reminders()
        else:
            self.say(self.system("reminders_unavailable" if not self.can_remind
                                 else "reminders_none"))
        return self.again(state)

    def stop_reminders(self) -> None:
        self.out.append(Reminders((), self.lang, cancel=True))
        self.say(self.system("reminders_stopped"))

    def cmd_forget(self, state: State | None, _: str | None) -> State | None:
        self.say(self.system("forgotten"))
        self.out.append(Ended(erased=True))
        return None


class _Unfit(enum.Enum):
    """Engine.fit's answer for a value the flows loaded now cannot give."""

    UNFIT = enum.auto()


def _is_date(text: str) -> bool:
    """An ISO date such as 2026-11-25, as date slots hold (and a real day: not 2026-13-45)."""
    if not _ISO_DATE.match(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _storable(text: str) -> str:
    """Typed text as valid Unicode: JSON from a platform may carry a lone surrogate ("\\ud800"),
    which no UTF-8 encoder stores; it becomes U+FFFD, so the state can always be saved."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def reminder_lines(bundle: Bundle, items: Iterable[tuple[str, dt.datetime]], lang: str) -> str:
    """"- <label>: <date>" per reminder (kind, due time), for setting and for listing them."""
    return "\n".join(f"- {bundle.reminder_labels.get(kind, {}).get(lang, kind)}: "
                     f"{format_date(due.astimezone(LOCAL).date(), lang)}" for kind, due in items)


def listed_reminders(bundle: Bundle, items: list[tuple[str, dt.datetime]], lang: str) -> str:
    """What the `reminders` command answers: the reminders still to come, or that there are
    none."""
    if not items:
        return bundle.text("reminders_none", lang)
    return fill(bundle.text("reminders_list", lang),
                lambda name: reminder_lines(bundle, items, lang) if name == "items" else "")



@functools.lru_cache(maxsize=16)
def _yes_no(bundle: Bundle) -> Ask:
    """The report's yes/no as a question, so that answers are understood like any other."""
    def label(key: str) -> dict[str, str]:
        return {lang: bundle.text(key, lang) for lang in bundle.languages}

    return Ask(id="report", question=label("report_question"), slot="report", choices=(
        Choice("yes", label("report_yes"), {"de": ("ja", "speichern"), "en": ("yes", "save")}),
        Choice("no", label("report_no"), {"de": ("nein",), "en": ("no",)}),
    ))


# Outputs are frozen, so an output that shows no answer is built once per node and language and
# handed out on every turn (caches keyed by nodes, which compare by identity, and by the bundle).


@functools.lru_cache(maxsize=8192)
def _frame(flow: str, node: str) -> Frame:
    return Frame(flow, node)


@functools.lru_cache(maxsize=4096)
def _fixed_say(here: Step, lang: str) -> Say | None:
    """A node's message when it has no placeholder (a Say of "" when it is empty), else None."""
    assert here.say is not None
    text = here.say[lang]
    return Say(text) if is_plain(text) else None


@dataclass(slots=True)
class _Fixed:
    questions: dict[tuple[Step, str, str, str], Question | None] = dataclasses.field(
        default_factory=dict)
    """(node, language, flow id, node id) -> its question, or None when it shows an answer."""
    contacts: dict[tuple[tuple[str, ...], str], Contacts] = dataclasses.field(default_factory=dict)
    """(contact ids, language) -> their cards."""
    ticks: dict[tuple[Checklist, str], tuple[tuple[Tick, Tick] | None, ...]] = (
        dataclasses.field(default_factory=dict))
    """(checklist, language) -> each item open and done (None: the item shows an answer)."""


@functools.lru_cache(maxsize=2)
def _fixed(bundle: Bundle) -> _Fixed:
    """The outputs built once for a bundle (a process runs one; two kept for a reload)."""
    return _Fixed()


def _fixed_ticks(here: Checklist, lang: str) -> tuple[tuple[Tick, Tick] | None, ...]:
    pairs: list[tuple[Tick, Tick] | None] = []
    for i, item in enumerate(here.items):
        text = item.text[lang]
        pairs.append((Tick(i + 1, item.id, text, False), Tick(i + 1, item.id, text, True))
                     if is_plain(text) else None)
    return tuple(pairs)


def _shows_no_answer(here: Ask | Input, lang: str) -> bool:
    if not is_plain(here.question[lang]):
        return False
    return not isinstance(here, Ask) or _fixed_options(here, lang) is not None


@functools.lru_cache(maxsize=4096)
def _fixed_options(ask: Ask, lang: str) -> tuple[Option, ...] | None:
    """The options of a question whose labels show no answer: the same on every turn."""
    if not all(is_plain(c.label[lang]) for c in ask.choices):
        return None
    return tuple(Option(i + 1, c.id, c.label[lang]) for i, c in enumerate(ask.choices))


def holds(condition: Condition, state: State) -> bool:
    if isinstance(condition, SlotIs):
        value = state.slots.get(condition.slot)
        if value is None:
            return False
        values = value if isinstance(value, tuple) else (value,)
        return any(v in condition.values for v in values)
    if isinstance(condition, SlotAnswered):
        return (state.slots.get(condition.slot) is not None) == condition.answered
    if isinstance(condition, AllOf):
        return all(holds(c, state) for c in condition.conditions)
    if isinstance(condition, AnyOf):
        return any(holds(c, state) for c in condition.conditions)
    assert isinstance(condition, Not)
    return not holds(condition.condition, state)

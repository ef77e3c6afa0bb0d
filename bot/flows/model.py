"""The checked, immutable form of flows, texts and contacts that the engine runs on: built by
`bot.flows.checker` only from content that passed every check, so the engine may trust it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from bot.flows.words import normalize

Text = Mapping[str, str]
"""One text in every language: language code -> text."""


# --- conditions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotIs:
    """The slot's value (or one of a multiple answer's values) is among `values`."""

    slot: str
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class SlotAnswered:
    """The slot holds an answer (`answered=True`) or holds none or a skip (`False`)."""

    slot: str
    answered: bool


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


Condition = SlotIs | SlotAnswered | AllOf | AnyOf | Not


@dataclass(frozen=True, slots=True)
class Link:
    """Go to `target` when `condition` holds; no condition means always (a plain or else link)."""

    target: str
    condition: Condition | None = None


# --- steps -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """What every node has: its id, an optional message shown first, and where it leads."""

    id: str
    say: Text | None = None
    next: tuple[Link, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Message(Step):
    """Shows `say` and goes on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Branch(Step):
    """Shows nothing; follows the first link whose condition holds."""


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    label: Text
    synonyms: Mapping[str, tuple[str, ...]]
    next: tuple[Link, ...] = ()
    cues: tuple[Cue, ...] = field(default=(), compare=False)
    """Words that point to this choice anywhere in a free-text message, in every language
    (`cues:` beside the synonyms; read by bot.engine.understanding, not by the question)."""
    phrases: frozenset[str] = field(init=False, compare=False)
    """Everything that answers with this choice (its id, labels and synonyms), normalized."""

    def __post_init__(self) -> None:
        words = {normalize(self.id.replace("_", " "))}
        for label in self.label.values():
            words.add(normalize(label))
        for synonyms in self.synonyms.values():
            for synonym in synonyms:
                words.add(normalize(synonym))
        words.discard("")
        object.__setattr__(self, "phrases", frozenset(words))


@dataclass(frozen=True, slots=True, kw_only=True)
class Ask(Step):
    """A question with fixed answers; waits for the user."""

    question: Text
    slot: str
    choices: tuple[Choice, ...]
    multiple: bool = False
    unmatched: Text | None = None
    """Said instead of the general "not understood" when an answer matches no choice: the
    first question gets a description of what happened more often than an answer."""
    on_miss: str | None = None
    """The choice whose way a second answer that matches nothing goes on, the answer left
    empty (`on_miss:`); without it, a question with its own `next` goes on along that."""

    def choice(self, choice_id: str) -> Choice | None:
        return next((c for c in self.choices if c.id == choice_id), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Input(Step):
    """A free-text or date answer kept in a slot; waits for the user."""

    question: Text
    slot: str
    kind: str = "text"  # "text" or "date"
    optional: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactList(Step):
    """Shows the contact cards of the listed contacts, in directory order."""

    contacts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    id: str
    text: Text
    """The item in one line: on the list, the sheet and as the heading of its own screen."""
    do: Text | None = None
    """What to do, in two or three lines (a walked list shows one item at a time)."""
    why: Text | None = None
    more: Text | None = None
    """The reference note for this item only ("Mehr dazu" / "more")."""
    due: str | None = None
    """A date slot: the day the item is due, shown with it and in "what is open"."""
    when: Condition | None = None
    """The item belongs to the list only when this holds (`if:`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Checklist(Step):
    """Tickable items; waits until the user says they are done. Ticks live in `slot`. A
    walked list (`walk`) shows one item at a time; "does not apply" marks live in
    `<slot>_na` and the item it stands at in `<slot>_at` (bot.engine.walk)."""

    title: Text
    slot: str
    items: tuple[ChecklistItem, ...]
    walk: bool = False

    @property
    def na_slot(self) -> str:
        return f"{self.slot}_na"

    @property
    def at_slot(self) -> str:
        return f"{self.slot}_at"


WALK_OPEN = "_open"
"""The `<slot>_at` value of a walked list's screen of open items (no item id begins so)."""


@dataclass(frozen=True, slots=True)
class Field:
    """A label and the slot whose answer it shows: a line of a document or a report preview."""

    label: Text
    slot: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentStep(Step):
    """Hands over a document built from slots; `erase` forgets those slots afterwards."""

    title: Text
    file: str
    fields: tuple[Field, ...]
    erase: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadline(Step):
    """Computes the end of a legal period from a date slot into `slot` (bot.engine.deadlines)."""

    start: str
    months: int = 0
    days: int = 0
    """A period of days instead of months (`days:`)."""
    slot: str
    region: str = "DE-HE"
    working_day: bool = True
    """An end on a weekend or public holiday moves to the next working day."""


CAN_REMIND_SLOT = "can_remind"
"""'yes' where the channel can send on its own (Telegram, Matrix): only there are reminders."""
REMINDER_SLOT = "reminder"
"""The id of the reminder that opened the conversation."""
REMINDER_DATE_SLOT = "reminder_date"
"""The date a reminder is about (a deadline)."""
OPENED_BY_REMINDER_SLOT = "opened_by_reminder"
"""'yes' in a conversation a reminder opened: there, 'stop' also ends the reminders."""
DANGER_SLOT = "danger_now"
"""'yes' once a message read as danger right now; `back` takes it back with the jump."""
UNDERSTOOD_SLOT = "understood"
"""What a free-text message was read to say, waiting to be confirmed: "slot=value" pairs."""
CONFIRMED_SLOT = "understood_confirmed"
"""The slots a confirmed reading filled: their questions are passed over."""
MISSED_SLOT = "missed"
""""<flow>.<node>" of the question whose last answer matched nothing: a second miss goes on."""


@dataclass(frozen=True, slots=True)
class ReminderItem:
    """One reminder a flow offers: due `after_days` from now, or `before_days` before the date
    in `before_slot`; when due it opens `open_flow` (at `open_node`, else its start)."""

    id: str
    open_flow: str
    open_node: str | None = None
    after_days: int | None = None
    before_slot: str | None = None
    before_days: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Remind(Step):
    """Sets the reminders whose ids were chosen in `slot` (all of them without a slot), or
    with `stop` ends every reminder of this user. Only where a channel can send on its own."""

    items: tuple[ReminderItem, ...] = ()
    slot: str | None = None
    stop: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Step):
    """Runs another flow and comes back to `next` when it ends."""

    flow: str


@dataclass(frozen=True, slots=True, kw_only=True)
class End(Step):
    """Ends this flow: returns to the caller, or ends the conversation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportStep(Step):
    """Shows exactly what an anonymous report would store and waits for yes or no. Either way
    the slots are forgotten, so the state looks the same whether or not a report was made."""

    intro: Text
    fields: tuple[Field, ...]
    month: str | None = None


WAITING = (Ask, Input, Checklist, ReportStep)


# --- danger ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cue:
    """A danger cue or a non-danger phrase as written ('wartet draußen', 'verfolg*',
    'gerade + *droh*'), read into parts that must all stand in one clause of a message. A part
    is normalized words; a word may begin or end with '*': then it may be the end or the start
    of a longer word ('*messer' is also 'Küchenmesser', 'verfolg*' also 'verfolgen')."""

    text: str
    parts: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Danger:
    """The `danger:` block of a flow: what reads as danger right now in any message, at any
    node of any flow, and the node (`go`, in `flow`) a conversation goes to then."""

    flow: str
    go: str
    cues: tuple[Cue, ...]
    safe: tuple[Cue, ...]
    """The `not:` phrases: an explicit "no danger now" ("ich bin nicht in Gefahr", "er ist
    weg"); it outweighs every cue before it in the message."""


@dataclass(frozen=True, slots=True)
class SlotCues:
    """What a free-text message may say about one slot: each value with the cues that point to
    it (docs/flows.md, "Reading a whole message"). From the `cues:` of the choices of the
    questions that fill the slot, or from a flow's `understand:` block for a slot no question
    asks."""

    slot: str
    values: tuple[tuple[str, tuple[Cue, ...]], ...]


# --- flows, contacts, bundle ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    version: int
    title: Text
    start: str
    nodes: Mapping[str, Step]
    file: str = ""
    keep_days: int | None = None
    """How long an idle conversation in this flow is kept; None: the configured default."""


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    name: Text
    topics: tuple[str, ...]
    region: str
    source: str
    checked: date
    phone: str | None = None
    web: str | None = None
    email: str | None = None
    hours: Text | None = None
    note: Text | None = None


@dataclass(frozen=True, slots=True)
class Bundle:
    """Everything a conversation needs: flows, texts, contacts, languages."""

    flows: Mapping[str, Flow]
    system: Mapping[str, Text]
    contacts: Mapping[str, Contact]
    topics: Mapping[str, Text]
    languages: tuple[str, ...]
    default_language: str
    default_flow: str
    slot_values: Mapping[str, frozenset[str] | None]
    """slot -> the answers it may hold (None: a date or typed text; the reminder slot: any
    id), so that an answer the flows loaded now cannot give is dropped from a stored state."""
    choice_labels: Mapping[str, Mapping[str, Text]] = field(default_factory=dict)
    """slot -> choice id -> label, so that texts and documents can show an answer's words."""
    date_slots: frozenset[str] = frozenset()
    multiple_slots: frozenset[str] = frozenset()
    """Slots a question fills with several answers (a tuple)."""
    free_text_slots: frozenset[str] = frozenset()
    """Slots holding what a person typed in their own words: never kept past a document."""
    reminders: Mapping[str, ReminderItem] = field(default_factory=dict)
    """"<flow>.<id>" -> the reminder's definition, to deliver a stored reminder."""
    reminder_labels: Mapping[str, Text] = field(default_factory=dict)
    """"<flow>.<id>" -> the words of the answer that chose it, to list reminders."""
    danger: Danger | None = None
    """What reads as danger right now, and where a conversation goes then (one flow says)."""
    cues: tuple[SlotCues, ...] = ()
    """What a free-text message may say about each slot (bot.engine.understanding)."""

    def text(self, key: str, lang: str) -> str:
        return self.system[key][lang]

    def pick_language(self, hint: str | None) -> str:
        """A platform's language hint ("de-AT", "en") as one of ours, else the default."""
        short = (hint or "").lower()[:2]
        return short if short in self.languages else self.default_language


def successors(step: Step) -> list[str]:
    """The ids of the nodes a step can lead to: its links, and its choices' links."""
    targets = [link.target for link in step.next]
    if isinstance(step, Ask):
        for choice in step.choices:
            targets.extend([link.target for link in choice.next])
    return targets

"""What each command does, from whichever node it is said at (the words are in
bot.engine.commands). `COMMANDS` is the table the step function looks a command up in."""

from __future__ import annotations

from collections.abc import Callable

from bot.engine.commands import Command
from bot.engine.confirm import undone
from bot.engine.conversation import Ended, State, contact_cards
from bot.engine.fitting import fits_flows, fitted
from bot.engine.moves import Begin, Close, Move, Show, again
from bot.engine.reminding import stop_reminders
from bot.engine.reply import Reply
from bot.flows.model import DANGER_SLOT, OPENED_BY_REMINDER_SLOT, UNDERSTOOD_SLOT


def start(reply: Reply, state: State | None, _: str | None) -> Move:
    if state is None:
        return Begin()
    reply.say(reply.system("resume"))
    return Show(state, full=True)


def help_(reply: Reply, state: State | None, _: str | None) -> Move:
    reply.say(reply.system("help"))
    return again(state)


def back(reply: Reply, state: State | None, _: str | None) -> Move:
    if state is None:
        return Begin()
    if not state.history:
        reply.say(reply.system("back_nothing"))
        return Show(state)
    undo = state.history[-1]
    slots = dict(state.slots)
    if undo.slot == UNDERSTOOD_SLOT:
        undone(slots)  # the answers a confirmed reading gave go with it
    elif undo.slot == DANGER_SLOT:
        slots.pop(UNDERSTOOD_SLOT, None)  # what the danger message said goes with the jump
    if undo.had_value:
        slots[undo.slot] = undo.previous
    else:
        slots.pop(undo.slot, None)
    restored = State(state.lang, undo.frames, slots, state.history[:-1])
    if not fits_flows(reply.bundle, restored):
        reply.say(reply.system("back_nothing"))
        return Show(state)
    reply.say(reply.system("back_done"))
    return Show(fitted(reply.bundle, restored), full=True)


def restart(reply: Reply, state: State | None, _: str | None) -> Move:
    reply.say(reply.system("restarted"))
    return Begin(state.frames[0].flow if state else None)


def emergency(reply: Reply, state: State | None, _: str | None) -> Move:
    reply.say(reply.system("emergency"))
    ids = tuple(c.id for c in reply.bundle.contacts.values() if "emergency" in c.topics)
    reply.out.append(contact_cards(reply.bundle, ids, reply.lang))
    if state is None:
        return Begin()
    reply.say(reply.system("continue_after_emergency"))
    return Show(state)


def language(reply: Reply, state: State | None, arg: str | None) -> Move:
    languages = reply.bundle.languages
    if arg is None:
        lang = languages[(languages.index(reply.lang) + 1) % len(languages)]
    elif arg in languages:
        lang = arg
    else:
        reply.say(" / ".join(f"{reply.bundle.text('language_name', code)} ({code})"
                             for code in languages))
        return again(state)
    reply.lang = lang
    reply.say(reply.system("language_switched"))
    if state is None:
        return Begin()
    return Show(State(lang, state.frames, state.slots, state.history), full=True)


def stop(reply: Reply, state: State | None, _: str | None) -> Move:
    if state is not None and state.slots.get(OPENED_BY_REMINDER_SLOT) == "yes":
        stop_reminders(reply)  # "stop" in answer to a reminder ends the reminders too
    reply.say(reply.system("stopped"))
    reply.out.append(Ended())
    return Close()


def forget(reply: Reply, state: State | None, _: str | None) -> Move:
    reply.say(reply.system("forgotten"))
    reply.out.append(Ended(erased=True))
    return Close()


def stats(reply: Reply, state: State | None, _: str | None) -> Move:
    """Statistics are for admins, answered by the service; everyone else learns nothing."""
    reply.say(reply.system("stats_refused"))
    return again(state)


def reminders(reply: Reply, state: State | None, arg: str | None) -> Move:
    """"erinnerungen stopp" ends them; the list itself comes from the service, which keeps
    them, so a channel without reminders lands here."""
    if arg == "stop":
        stop_reminders(reply)
    else:
        reply.say(reply.system("reminders_unavailable" if not reply.can_remind
                               else "reminders_none"))
    return again(state)


COMMANDS: dict[Command, Callable[[Reply, State | None, str | None], Move]] = {
    Command.START: start,
    Command.HELP: help_,
    Command.BACK: back,
    Command.RESTART: restart,
    Command.EMERGENCY: emergency,
    Command.LANGUAGE: language,
    Command.STOP: stop,
    Command.FORGET: forget,
    Command.STATS: stats,
    Command.REMINDERS: reminders,
}

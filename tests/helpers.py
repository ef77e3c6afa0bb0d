"""Test helpers: bundles built from inline YAML over the shipped content, and a talker."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from bot.engine.conversation import Event, Output, Question, Said, Say, Start, State
from bot.engine.turn import step
from bot.flows.checker import CheckResult, Sources, check
from bot.flows.model import Bundle
from bot.flows.shipped import shipped_content

NOW = dt.datetime(2026, 11, 25, 10, 30, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parent.parent
SECRET = b"0123456789abcdef0123456789abcdef"


def on_disk(folder: Path, prefix: str = "") -> bytes:
    """Every byte of the files in `folder` whose names start with `prefix` (a database with its
    WAL and keys): what a privacy test searches for text that must not be there."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith(prefix))
"""The key-hashing secret of the service and channel tests."""

# The employee flow's first questions (German), as the channel tests wait for them.
Q_DANGER = "Sind Sie gerade in Gefahr?"
Q_WHO = "Schreiben Sie über etwas"
Q_INJURED = "Sind Sie verletzt?"
Q_WHAT = "Was ist passiert?"
Q_HOW = "Wie oder wo ist es passiert?"
Q_WHEN = "Wann ist es passiert?"
Q_PROTOCOL = "Möchten Sie das gleich hier mit mir aufschreiben?"


class Clock:
    """A service's clock that a test moves by hand."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def write_flows(folder: Path, *flows: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, text in enumerate(flows):
        path = folder / f"flow{index}.yaml"
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        paths.append(path)
    return paths


def check_flows(tmp_path: Path, *flows: str) -> CheckResult:
    return check(Sources(tuple(write_flows(tmp_path / "flows", *flows)), (shipped_content(),)))


def bundle_of(tmp_path: Path, *flows: str) -> Bundle:
    result = check_flows(tmp_path, *flows)
    assert result.bundle is not None, "\n".join(str(p) for p in result.errors)
    return result.bundle


class Talk:
    """A conversation with the bare engine: send text, read what came back."""

    def __init__(self, bundle: Bundle, lang: str = "de", flow: str | None = None,
                 now: dt.datetime = NOW) -> None:
        self.bundle = bundle
        self.now = now
        self.state: State | None = None
        self.outputs: tuple[Output, ...] = ()
        self.send_event(Start(lang, flow))

    def send_event(self, event: Event) -> tuple[Output, ...]:
        turn = step(self.bundle, self.state, event, self.now)
        self.state, self.outputs = turn.state, turn.outputs
        return self.outputs

    def send(self, text: str) -> tuple[Output, ...]:
        return self.send_event(Said(text))

    @property
    def question(self) -> Question:
        questions = [o for o in self.outputs if isinstance(o, Question)]
        assert questions, f"no question in {self.outputs}"
        return questions[-1]

    @property
    def node(self) -> str:
        assert self.state is not None
        return self.state.here.node

    @property
    def said(self) -> str:
        return "\n".join(o.text for o in self.outputs if isinstance(o, Say))


def random_script(bundle: Bundle, seed: int, lang: str = "de", max_turns: int = 60,
                  text: str | None = None, report: str | None = None,
                  flow: str | None = None) -> list[str]:
    """A plausible conversation through `flow` (the default one): what a person might type,
    in order."""
    import random

    from bot.flows.model import Ask, Checklist, Input, ReportStep

    rng = random.Random(seed)
    turn = step(bundle, None, Start(lang, flow), NOW)
    state = turn.state
    script: list[str] = []
    while state is not None and len(script) < max_turns:
        here = bundle.flows[state.here.flow].nodes[state.here.node]
        if isinstance(here, Ask):
            choice = rng.randrange(len(here.choices))
            said = rng.choice([str(choice + 1), here.choices[choice].label[lang]])
        elif isinstance(here, Input):
            said = "gestern" if here.kind == "date" else text or f"Antwort {seed}"
        elif isinstance(here, ReportStep):
            said = report or rng.choice(["ja", "nein"])
        else:
            assert isinstance(here, Checklist)
            said = rng.choice(["1", "fertig"])
        script.append(said)
        state = step(bundle, state, Said(said), NOW).state
    return script

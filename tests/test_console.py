"""`lotse chat` as a real subprocess: piped conversations, pausing and resuming, documents."""

from __future__ import annotations

import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import on_disk

CHAT = [sys.executable, "-m", "bot", "chat"]


def run_chat(tmp_path: Path, lines: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHAT, "--data-dir", str(tmp_path / "data"), "--out-dir", str(tmp_path / "docs"), *args],
        input="".join(f"{line}\n" for line in lines), capture_output=True, text=True,
        timeout=60, env={**os.environ, "LOTSE_SECRET": ""},
    )


THREATENED_AT_THE_COUNTER = [
    "nein",                                   # not in danger now
    "mir",                                    # it happened to me (not: I am a supervisor)
    "nein",                                   # not injured
    "Ich wurde bedroht",                      # kind: threat
    "am Schalter",                            # channel: in person
    "heute",                                  # when
    "ja",                                     # write the memory protocol (date: asked above)
    "gegen 10:30 Uhr",                        # time
    "Bürgerbüro Mitte, Schalter 3",           # place
    "Er wollte nicht warten und wurde laut.", # what happened
    "Ich weiß, wo Ihr Auto steht.",           # the words
    "überspringen",                           # who
    "überspringen",                           # witnesses
    "überspringen",                           # injuries or damage
    "überspringen",                           # what I did afterwards
    "überspringen",                           # how I feel
    "überspringen",                           # evidence kept
    "ja",                                     # review: everything is right
    "nein",                                   # supervisor does not know yet
    "ja",                                     # it weighs on me
    "nein",                                   # no more on the accident insurance
    "ja",                                     # explain the police
]


def test_threatened_at_the_counter_gets_next_steps_contacts_and_a_document(
        tmp_path: Path) -> None:
    result = run_chat(tmp_path, THREATENED_AT_THE_COUNTER)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sind Sie gerade in Gefahr?" in out
    assert "Gedächtnisprotokoll" in out and "110" in out
    assert "Strafantrag" in out and "drei Monate" in out
    assert "116 006" in out  # WEISSER RING among the contacts
    documents = list((tmp_path / "docs").glob("gedaechtnisprotokoll-*.txt"))
    assert len(documents) == 1
    document = documents[0].read_text(encoding="utf-8")
    assert "Ich weiß, wo Ihr Auto steht." in document
    assert "Bürgerbüro Mitte, Schalter 3" in document and "Zeuginnen" not in document
    state = on_disk(tmp_path / "data")
    assert b"Auto steht" not in state and b"Schalter 3" not in state


def test_an_interrupted_chat_continues_where_it_stopped(tmp_path: Path) -> None:
    first = run_chat(tmp_path, THREATENED_AT_THE_COUNTER[:5])
    assert first.returncode == 0
    assert "gespeichert" in first.stdout  # end of input pauses, it does not end
    second = run_chat(tmp_path, THREATENED_AT_THE_COUNTER[5:6])
    assert second.returncode == 0
    before_answer = second.stdout.split("> heute")[0]
    assert "Willkommen zurück" in before_answer or "stehen geblieben" in before_answer
    assert "Wann ist es passiert?" in before_answer
    assert "Sind Sie gerade in Gefahr?" not in before_answer


def test_ctrl_c_pauses_cleanly_and_the_next_chat_resumes(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*CHAT, "--data-dir", str(tmp_path / "data")], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write("nein\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    state = tmp_path / "data" / "state.db"
    while time.monotonic() < deadline and not state.exists():
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=15)  # its input still open: the Ctrl-C alone ends it
    out, err = proc.communicate()
    assert code == 0, err
    assert "Traceback" not in err
    assert "gespeichert" in out
    resumed = run_chat(tmp_path, [])
    assert "Willkommen zurück" in resumed.stdout
    assert "Schreiben Sie über etwas, das Ihnen selbst passiert ist?" in resumed.stdout
    assert "Sind Sie gerade in Gefahr?" not in resumed.stdout


def test_one_ctrl_c_at_the_prompt_of_a_terminal_pauses_the_chat(tmp_path: Path) -> None:
    """In a terminal the console waits in input(); one Ctrl-C must end it there, not only a
    second one (the terminal stays open: no end of input helps it out)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*CHAT, "--data-dir", str(tmp_path / "data")], stdin=follower,
                            stdout=follower, stderr=subprocess.PIPE, text=True)
    os.close(follower)
    assert proc.stderr is not None
    prompts = proc.stderr.fileno()  # input() writes its prompt to stderr, then waits
    seen = _read_until(leader, "Antwort.)")  # the first question with its options
    _read_until(prompts, "> ")
    os.write(leader, b"nein\n")
    seen += _read_until(leader, "passiert ist?", "Antwort.)")
    _read_until(prompts, "> ")  # the second question's prompt: input() is about to wait
    # CPython's input() misses a signal that lands between writing its prompt and starting to
    # read (it would act on it with the next line typed); a person's Ctrl-C never comes within
    # microseconds of the prompt, a test's does on a busy machine.
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=15)
    finally:
        proc.kill()
        err = proc.stderr.read()
        proc.stderr.close()
    seen += _read_until(leader, "lotse chat")
    os.close(leader)
    assert code == 0, err
    assert "Traceback" not in err
    assert "gespeichert" in seen
    assert "Willkommen zurück" in run_chat(tmp_path, []).stdout


def _read_until(fd: int, *texts: str, timeout: float = 30) -> str:
    """What the terminal shows until each of `texts` has appeared, in this order."""
    seen, at = "", 0
    deadline = time.monotonic() + timeout
    for text in texts:
        while (found := seen.find(text, at)) < 0 and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(fd, 65536).decode("utf-8", "replace")
                except OSError:  # the other end closed
                    return seen
        at = found + len(text) if found >= 0 else len(seen)
    return seen


def test_english_and_commands_in_the_terminal(tmp_path: Path) -> None:
    result = run_chat(tmp_path, ["help", "emergency", "no", "forget"], "--lang", "en")
    assert result.returncode == 0
    assert "Are you in danger right now?" in result.stdout
    assert "112" in result.stdout
    rows = sqlite3.connect(tmp_path / "data" / "state.db").execute(
        "SELECT count(*) FROM conversations").fetchone()
    assert rows == (0,)  # forget erased the conversation
    again = run_chat(tmp_path, [], "--lang", "en")
    assert "Welcome back" not in again.stdout and "Are you in danger" in again.stdout


def test_broken_flows_are_refused_with_the_checkers_messages(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("flow: broken\nversion: 1\ntitle: {de: T, en: T}\nstart: a\nnodes:\n"
                      "  a:\n    say: {de: x, en: x}\n    next: b\n", encoding="utf-8")
    result = run_chat(tmp_path, [], "--flows", str(broken))
    assert result.returncode == 2
    assert "broken.yaml:8:11: node 'a' leads to 'b'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flow", ["nonexistent"])
def test_unknown_flow_option_is_a_clear_error(tmp_path: Path, flow: str) -> None:
    result = run_chat(tmp_path, [], "--flow", flow)
    assert result.returncode == 2 and "no flow 'nonexistent'" in result.stderr

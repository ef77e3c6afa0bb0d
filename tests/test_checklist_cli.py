"""`lotse checklist supervisor --chat` (#25, item 5): the list a supervisor walks in `lotse chat`,
printed for the personnel file with its ticks, dates and "trifft nicht zu" marks, exactly as
"drucken" gives it; the conversation itself is left as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

WALK = "\n".join(["nein", "heute", "1", "1", "2",  # nobody in danger; learned today; an insult
                  "erledigt", "später", "trifft nicht zu"]) + "\n"


def test_the_walked_list_is_printed_with_its_ticks_and_marks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = ["--data-dir", str(tmp_path / "data")]
    talked = CliRunner().invoke(main, ["chat", "--flow", "supervisor", *data], input=WALK)
    assert talked.exit_code == 0, talked.output
    assert "Punkt 4 von 14" in talked.output
    printed = CliRunner().invoke(main, ["checklist", "supervisor", "--chat", *data])
    assert printed.exit_code == 0, printed.output
    [txt] = [f for f in os.listdir(tmp_path) if f.endswith(".txt")]
    [pdf] = [f for f in os.listdir(tmp_path) if f.endswith(".pdf")]
    assert (tmp_path / pdf).read_bytes().startswith(b"%PDF")
    sheet = (tmp_path / txt).read_text(encoding="utf-8")
    assert "Erste Betreuung" in sheet and "erledigt" in sheet and "trifft nicht zu" in sheet
    assert "offen" in sheet
    again = CliRunner().invoke(main, ["chat", *data], input="\n")  # where it was: item 4
    assert "Punkt 4 von 14" in again.output


def test_without_a_kept_list_it_says_so_in_one_line(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    printed = CliRunner().invoke(main, ["checklist", "supervisor", "--chat",
                                        "--data-dir", str(tmp_path / "data")])
    assert printed.exit_code == 1
    assert printed.output.strip() == ("lotse: no list of 'supervisor' is kept in `lotse chat` "
                                      "here")
    assert not [f for f in os.listdir(tmp_path) if f.endswith((".pdf", ".txt"))]

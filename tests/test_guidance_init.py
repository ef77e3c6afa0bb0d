"""A city's placeholder contacts (#24): `lotse check` warns about a card in a city's folder that
reaches no one, and `lotse init` names every card the city still has to fill in."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import main


def test_init_lists_the_cards_to_fill_and_check_warns_until_they_reach_someone(
        tmp_path: Path) -> None:
    city = tmp_path / "city"
    made = CliRunner().invoke(main, ["init", str(city), "--city", "Musterstadt"])
    assert made.exit_code == 0, made.output
    for card in ("antidiscrimination_office", "agg_complaints_office", "staff_council",
                 "company_doctor", "equality_officer", "social_media_team"):
        assert f"contact '{card}'" in made.output
    assert "6 cards reach no one yet" in made.output

    config = ["--config", str(city / "lotse.yaml"), "check"]
    checked = CliRunner().invoke(main, config)
    assert checked.exit_code == 0  # a warning, not an error: Lotse runs meanwhile
    assert "contact 'staff_council' has no phone, web or e-mail" in checked.output

    contacts = city / "content" / "contacts-local.yaml"
    text = contacts.read_text(encoding="utf-8")
    contacts.write_text(text.replace("  - id: staff_council\n",
                                     "  - id: staff_council\n    phone: \"0561 000000\"\n"),
                        encoding="utf-8")
    filled = CliRunner().invoke(main, config)
    assert "contact 'staff_council' has no" not in filled.output
    assert "contact 'company_doctor' has no" in filled.output


def test_the_shipped_kassel_placeholders_are_not_reported_they_are_the_sample() -> None:
    """A city replaces the shipped contacts-local.yaml with its own (`lotse init`); only there
    does an empty card mean that someone forgot to fill it in."""
    checked = CliRunner().invoke(main, ["check"])
    assert checked.exit_code == 0 and "no one can reach it" not in checked.output

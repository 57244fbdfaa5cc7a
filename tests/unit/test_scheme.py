"""Scoring schemes as read from their files: English names, their checks, and a digest that stays put."""

from __future__ import annotations

import pytest

from duban.engine.assess.scheme import digest_of, parse_scheme, scheme_json
from duban.engine.errors import DefinitionError

SCHEME = """id: county-2026
title: 2026年度基层工会工作考核细则
year: 2026
items:
  - {definition: member-congress-annual, points: 20, late: -2, missing: -5, rejected: -1, quality: {max: 5}}
  - {definition: send-warmth-campaign, points: 10, missing: -10}
bonus:
  - {id: model-home, label: 获评模范职工之家, max: 3}
"""

ENGLISH = SCHEME.replace(
    "title: 2026年度基层工会工作考核细则\n",
    "title: 2026年度基层工会工作考核细则\ntitle_en: 2026 assessment rules for grassroots unions\n",
).replace("label: 获评模范职工之家,", "label: 获评模范职工之家, label_en: Named a model workers' home,")


def test_english_names_are_optional_and_kept() -> None:
    plain, english = parse_scheme(SCHEME, "plain.yaml"), parse_scheme(ENGLISH, "english.yaml")
    assert (plain.title_en, plain.bonus[0].label_en) == (None, None)
    assert english.title_en == "2026 assessment rules for grassroots unions"
    assert english.bonus[0].label_en == "Named a model workers' home"
    shown = scheme_json(english, 2)
    assert (shown["title_en"], shown["bonus"][0]["label_en"], shown["version"]) == (
        english.title_en,
        english.bonus[0].label_en,
        2,
    )


def test_a_scheme_without_english_names_keeps_the_digest_it_had_before_they_existed() -> None:
    # Stored versions are compared by digest: a file loaded again unchanged must not become a new version.
    assert digest_of(parse_scheme(SCHEME, "s.yaml")) == (
        "d974c6dadc8b91d08437f689f9cf92196a48b6e9c267c2ba6e53f3545da92e96"
    )
    assert digest_of(parse_scheme(ENGLISH, "s.yaml")) != digest_of(parse_scheme(SCHEME, "s.yaml"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            ENGLISH.replace("title_en: 2026 assessment rules for grassroots unions", 'title_en: ""'),
            ":3: title_en: ",
        ),
        (
            ENGLISH.replace("label_en: Named a model workers' home", f"label_en: {'x' * 101}"),
            ":9: bonus[0].label_en: ",
        ),
    ],
)
def test_empty_or_overlong_english_names_are_refused_with_file_line_and_field(
    text: str, problem: str
) -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_scheme(text, "s.yaml")
    assert f"s.yaml{problem}" in str(refused.value)

"""The statutory holidays that the law fixes years ahead (全国年节及纪念日放假办法).

The State Council's yearly notice decides how each break is laid out and which
weekends become working days (调休); the law itself fixes the holidays' days. For a
year whose notice is not out yet those days are still known, so the calendar counts
them as rest days instead of treating the whole year as weekdays.

The days follow the law as revised in 2024 (in force from 2025): 元旦 1 January; 春节
four days, 除夕 to 正月初三; 清明 the day of the Qingming solar term; 劳动节 1–2 May;
端午 the fifth day of the fifth lunar month; 中秋 the fifteenth of the eighth; 国庆
1–3 October. A holiday falling on a weekend is given back on a working day (第六条),
but which day is the notice's choice, so it is not guessed here.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
from lunardate import LunarDate

from duban.engine.language.model import HOLIDAYS

# In the order of the year, by the names definitions use (`due: {before_holiday: NAME}`).
HOLIDAY_NAMES = HOLIDAYS

# The lunar table and the solar-term formula both cover these years.
FIRST_YEAR, LAST_YEAR = 1901, 2099


def _lunar(year: int, month: int, day: int) -> date:
    return LunarDate(year, month, day).to_solar_date()


def _qingming(year: int) -> date:
    found = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
    return next(day for day, name in found if name == "清明")


def statutory_days(year: int) -> dict[str, tuple[date, ...]]:
    """Each statutory holiday's days off in `year` by the law alone; ValueError outside 1901–2099."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"the statutory holidays are computed for {FIRST_YEAR}-{LAST_YEAR}, not {year}")
    new_year = _lunar(year, 1, 1)
    return {
        "new_year": (date(year, 1, 1),),
        # 除夕 is the last day of the twelfth lunar month, 29th or 30th: the day before 初一.
        "spring_festival": tuple(new_year + timedelta(days=offset) for offset in range(-1, 3)),
        "qingming": (_qingming(year),),
        "labour_day": (date(year, 5, 1), date(year, 5, 2)),
        "dragon_boat": (_lunar(year, 5, 5),),
        "mid_autumn": (_lunar(year, 8, 15),),
        "national_day": (date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)),
    }


def statutory_rest_days(year: int) -> frozenset[date]:
    """Every day the law gives everyone off in `year` (empty outside the computable years)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return frozenset()
    return frozenset(day for days in statutory_days(year).values() for day in days)


def anchor_day(name: str, year: int) -> date:
    """A day that is inside `name`'s break in `year` under every version of the law: 初一 for 春节, else the first."""
    days = statutory_days(year)[name]
    return days[1] if name == "spring_festival" else days[0]

"""Unit and people imports change only what the file gives, say what a dry run would do, and
refuse bad headers, encodings and archives before the write session opens."""

from __future__ import annotations

import json
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, MetaData, select
from typer.testing import CliRunner

from duban.cli.main import app
from duban.engine.access.actors import OPERATOR
from duban.engine.errors import ImportRefused
from duban.engine.org import sheets, tree
from duban.engine.org.people import import_people, read_people
from duban.engine.org.units import import_units, read_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Person

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime.fromisoformat("2026-03-02T09:00+08:00")
runner = CliRunner()


def dump(db: Engine) -> dict[str, list]:
    meta = MetaData()
    meta.reflect(db)
    with db.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(t.select()).all())) for t in meta.sorted_tables}


def load(db: Engine, path: Path, **kw):  # type: ignore[no-untyped-def]
    with write_session(db) as s:
        return import_units(s, NOW, OPERATOR, path, **kw)


def unit(db: Engine, code: str):  # type: ignore[no-untyped-def]
    with read_session(db) as s:
        u = tree.get_unit(s, code)
        return u.name, u.tags, u.attrs, u.contacts, u.parent_id


def csv(tmp_path: Path, text: str, name: str = "units.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def tree_db(db: Engine, tmp_path: Path) -> Engine:
    load(db, FIXTURES / "tree.csv")
    contacts = csv(
        tmp_path,
        'code,name,parent_code,level,contacts\nG01,华达电子有限公司工会,T01,grassroots,"{""email"": [""g01@example.cn""]}"\n',
        "c.csv",
    )
    load(db, contacts)
    return db


def test_a_rename_only_file_keeps_tags_attrs_and_contacts(tree_db: Engine, tmp_path: Path) -> None:
    before = unit(tree_db, "G01")
    result = load(tree_db, csv(tmp_path, "code,name,parent_code,level\nG01,华达电子工会,T01,grassroots\n"))
    assert (result.updated, result.created, result.moved) == (1, 0, 0)
    name, tags, attrs, contacts, parent = unit(tree_db, "G01")
    assert name == "华达电子工会"
    assert (tags, attrs, contacts, parent) == before[1:]
    assert tags == ";enterprise;non_public;" and attrs == {"members": 320}
    assert contacts["email"] == ["g01@example.cn"]


def test_a_blank_cell_keeps_and_the_marker_clears(tree_db: Engine, tmp_path: Path) -> None:
    body = "code,name,parent_code,level,tags,attrs,contacts\nG01,华达电子有限公司工会,,grassroots,-,,-\nG04,虎门港务集团工会,T02,grassroots,,-,\n"
    result = load(tree_db, csv(tmp_path, body))
    assert (result.updated, result.moved) == (2, 0)
    _, tags, attrs, contacts, parent = unit(tree_db, "G01")
    assert (tags, attrs, contacts["email"] if contacts else []) == ("", {"members": 320}, [])
    with read_session(tree_db) as s:
        assert parent == tree.get_unit(s, "T01").id  # a blank parent_code keeps the parent
    assert unit(tree_db, "G04")[1:3] == (";enterprise;", {})


def test_the_marker_in_parent_code_makes_a_top_level_union(tree_db: Engine, tmp_path: Path) -> None:
    result = load(tree_db, csv(tmp_path, "code,name,parent_code,level\nK02,虎门镇总工会,-,county\n"))
    assert result.moved == 1
    assert unit(tree_db, "K02")[4] is None


def test_a_merged_header_cell_is_refused_naming_the_column(tree_db: Engine, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["code", "name", "parent_code", "level", "tags", None])  # attrs' cell merged away
    sheet.append(["G01", "华达电子有限公司工会", "T01", "grassroots", "enterprise", '{"members": 1}'])
    path = tmp_path / "units.xlsx"
    book.save(path)
    before = dump(tree_db)
    with pytest.raises(ImportRefused) as refused:
        read_units(path)
    (problem,) = refused.value.problems
    assert problem.where == f"{path}:1" and problem.field == "column F"
    assert "has no header but holds values" in problem.message
    assert dump(tree_db) == before


def test_an_unknown_or_repeated_header_is_refused(tmp_path: Path) -> None:
    path = csv(tmp_path, "code,name,parent_code,level,tag,name\nX,x,,municipal,,\n")
    with pytest.raises(ImportRefused) as refused:
        read_units(path)
    assert [str(p).replace(str(tmp_path) + "/", "") for p in refused.value.problems] == [
        "units.csv:1: column E: unknown column 'tag'; the columns are code, name, parent_code, level, tags, attrs, contacts",
        "units.csv:1: column F: name is given twice",
    ]


def test_a_dry_run_says_what_would_change_and_changes_nothing(tree_db: Engine, tmp_path: Path) -> None:
    body = (
        "code,name,parent_code,level,tags\n"
        "G01,华达电子工会,T01,grassroots,\n"  # renamed
        "G02,莞城第一小学工会,T02,grassroots,\n"  # moved
        "G09,新工会,T01,grassroots,enterprise\n"  # created
        "G03,虎门服装城市场工会,T02,grassroots,\n"  # unchanged
    )
    before = dump(tree_db)
    with read_session(tree_db) as s:
        result = import_units(s, NOW, OPERATOR, read_units(csv(tmp_path, body)), dry_run=True)
    assert dump(tree_db) == before
    doc = result.to_json()
    assert (doc["created"], doc["updated"], doc["moved"], doc["unchanged"]) == (1, 1, 1, 1)
    assert doc["changes"] == [
        {"code": "G01", "created": False, "fields": ["name"]},
        {"code": "G02", "created": False, "fields": [], "moved": {"from": "T01", "to": "T02"}},
        {"code": "G09", "created": True, "fields": []},
    ]


def test_the_cli_dry_run_prints_the_changes(db_url: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["--db", db_url, "units", "import", str(FIXTURES / "tree.csv")]).exit_code == 0
    path = csv(
        tmp_path, "code,name,parent_code,level\nG01,华达电子工会,T02,grassroots\nG09,新工会,T01,grassroots\n"
    )
    result = runner.invoke(app, ["--db", db_url, "units", "import", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "G01: update name; move from T01 to T02" in result.output
    assert "G09: create" in result.output
    assert "units (dry run, nothing changed): 1 created, 1 updated, 1 moved, 0 unchanged" in result.output
    listed = runner.invoke(app, ["--db", db_url, "units", "import", str(path), "--dry-run", "--json"])
    assert json.loads(listed.stdout)["dry_run"] is True
    again = runner.invoke(app, ["--db", db_url, "units", "import", str(path), "--json"])
    assert json.loads(again.stdout) == {"created": 1, "updated": 1, "moved": 1, "unchanged": 0}


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_a_chinese_windows_csv_is_read(db: Engine, tmp_path: Path, encoding: str) -> None:
    text = (FIXTURES / "tree.csv").read_text(encoding="utf-8")
    assert load(db, csv(tmp_path, text, encoding=encoding)).created == 10
    assert unit(db, "G03")[0] == "虎门服装城市场工会"


def test_undecodable_bytes_are_refused_with_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(
        "code,name,parent_code,level\nC01,市总,,municipal\n".encode() + b"C02,\xff\xfe,,municipal\n"
    )
    with pytest.raises(ImportRefused) as refused:
        read_units(path)
    (problem,) = refused.value.problems
    assert problem.where == f"{path}:3"
    assert "neither UTF-8 nor GB18030" in problem.message and "CSV UTF-8" in problem.message


def test_an_xlsx_that_unpacks_too_far_is_refused_before_it_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheets, "MAX_XLSX_UNPACKED", 1024 * 1024)
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<row/>" * 400_000)  # 2.4 MB of XML
    assert path.stat().st_size < 100_000
    with pytest.raises(ImportRefused, match="unpacks to 2 MB, more than 1 MB"):
        read_units(path)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("X1,恶意\x1b[2J名称,C01,county,", "name"),
        ("X1,名称\u202etxt.exe,C01,county,", "name"),
        ("X1,名称,C01,county,ok;bad\x07", "tags"),
        ('X1,名称,C01,county,,"{""email"": [""a\\u001b@b.cn""]}"', "contacts"),
    ],
)
def test_control_characters_are_refused_naming_row_and_field(tmp_path: Path, row: str, field: str) -> None:
    path = csv(tmp_path, "code,name,parent_code,level,tags,contacts\nC09,市总,,municipal,,\n" + row + "\n")
    with pytest.raises(ImportRefused) as refused:
        read_units(path)
    (problem,) = refused.value.problems
    assert (problem.where, problem.field) == (f"{path}:3", field)
    assert "control character" in problem.message or "must be lower-case" in problem.message


# --- people ---------------------------------------------------------------------------


def person(db: Engine, ext_id: str) -> Person:
    with read_session(db) as s:
        return s.scalars(select(Person).where(Person.ext_id == ext_id)).one()


def people_file(tmp_path: Path, text: str) -> Path:
    return csv(tmp_path, text, "people.csv")


def test_people_change_only_the_columns_given(tree_db: Engine, tmp_path: Path) -> None:
    full = "id,name,unit_code,kind,appointed_on,birthday\nP1,张三,G01,cadre,2026-03-01,1980-05-04\nP2,李四,G02,member,,1990-01-02\n"
    with write_session(tree_db) as s:
        import_people(s, NOW, OPERATOR, people_file(tmp_path, full))
    rename = "id,name,unit_code,kind\nP1,张三丰,G01,cadre\n"
    with write_session(tree_db) as s:
        assert import_people(s, NOW, OPERATOR, people_file(tmp_path, rename)) == {
            "created": 0,
            "updated": 1,
            "unchanged": 0,
        }
    p1 = person(tree_db, "P1")
    assert (p1.name, p1.appointed_on, p1.birthday) == ("张三丰", date(2026, 3, 1), date(1980, 5, 4))
    clear = "id,name,unit_code,kind,birthday\nP2,李四,G02,member,-\n"
    with write_session(tree_db) as s:
        import_people(s, NOW, OPERATOR, people_file(tmp_path, clear))
    assert person(tree_db, "P2").birthday is None


def test_a_cadre_cannot_lose_the_date_of_appointment(tree_db: Engine, tmp_path: Path) -> None:
    path = people_file(tmp_path, "id,name,unit_code,kind,appointed_on\nP1,张三,G01,cadre,-\n")
    with pytest.raises(
        ImportRefused, match=r"people\.csv:2: appointed_on: a cadre needs the date of appointment"
    ):
        read_people(path)


def test_a_people_dry_run_changes_nothing(tree_db: Engine, tmp_path: Path) -> None:
    with write_session(tree_db) as s:
        import_people(s, NOW, OPERATOR, people_file(tmp_path, "id,name,unit_code,kind\nP2,李四,G02,member\n"))
    before = dump(tree_db)
    body = "id,name,unit_code,kind,birthday\nP2,李四,G03,member,1990-01-02\nP3,王五,G01,member,\n"
    with read_session(tree_db) as s:
        result = import_people(s, NOW, OPERATOR, read_people(people_file(tmp_path, body)), dry_run=True)
    assert dump(tree_db) == before
    assert result["changes"] == [
        {
            "id": "P2",
            "created": False,
            "fields": ["unit_id", "birthday"],
            "moved": {"from": "G02", "to": "G03"},
        },
        {"id": "P3", "created": True, "fields": []},
    ]


def test_a_bad_people_row_names_every_problem(tree_db: Engine, tmp_path: Path) -> None:
    body = "id,name,unit_code,kind,birthday\nP 1,,G01,boss,1980-02-30\nP2,李四,G01,member,9999-01-01\n"
    with pytest.raises(ImportRefused) as refused:
        read_people(people_file(tmp_path, body))
    found = [str(p).replace(str(tmp_path) + "/", "") for p in refused.value.problems]
    assert found == [
        "people.csv:2: id: 'P 1' is not an id",
        "people.csv:2: name: a person needs a name",
        "people.csv:2: kind: unknown kind 'boss'; one of cadre, member",
        "people.csv:2: birthday: '1980-02-30' is not a date (YYYY-MM-DD)",
        "people.csv:3: birthday: 9999-01-01 is outside the years 1900-2999",
    ]

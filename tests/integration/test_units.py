"""The org tree: import, upsert, move, refusals that change nothing, index-backed subtrees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, select, text

from duban.engine.access.actors import OPERATOR
from duban.engine.errors import ImportRefused
from duban.engine.org import tree
from duban.engine.org.people import import_people
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Audit, Unit

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = __import__("datetime").datetime.fromisoformat("2026-03-02T09:00+08:00")


def load(db: Engine, path: Path):
    with write_session(db) as s:
        return import_units(s, NOW, OPERATOR, path)


def dump(db: Engine) -> dict[str, list]:
    """Every row of every table, to compare a database before and after a refusal."""
    meta = MetaData()
    meta.reflect(db)
    with db.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(t.select()).all())) for t in meta.sorted_tables}


def codes_under(db: Engine, code: str) -> set[str]:
    with read_session(db) as s:
        root = tree.get_unit(s, code)
        return set(s.scalars(select(Unit.code).where(tree.in_subtree(root.path))))


def write_csv(tmp_path: Path, body: str, name: str = "units.csv") -> Path:
    path = tmp_path / name
    path.write_text("code,name,parent_code,level,tags,attrs\n" + body, encoding="utf-8")
    return path


def test_import_builds_the_tree(db: Engine) -> None:
    result = load(db, FIXTURES / "tree.csv")
    assert result.created == 10
    assert codes_under(db, "T01") == {"T01", "G01", "G02", "S01"}
    assert codes_under(db, "C01") == {"C01", "K01", "K02", "T01", "T02", "G01", "G02", "G03", "G04", "S01"}
    with read_session(db) as s:
        g01 = tree.get_unit(s, "G01")
        assert g01.tags == ";enterprise;non_public;"
        assert g01.attrs == {"members": 320}
        assert [u.code for u in tree.ancestors(s, g01)] == ["C01", "K01", "T01"]
        assert g01.depth == 3
        assert s.scalar(select(Audit.action).where(Audit.action == "units.imported")) == "units.imported"


def test_reimport_is_an_upsert(db: Engine, tmp_path: Path) -> None:
    load(db, FIXTURES / "tree.csv")
    again = load(db, FIXTURES / "tree.csv")
    assert (again.created, again.updated, again.moved, again.unchanged) == (0, 0, 0, 10)
    changed = write_csv(
        tmp_path, 'G02,莞城第一小学工会（改）,T01,grassroots,institution,"{""members"": 61}"\n'
    )
    result = load(db, changed)
    assert (result.created, result.updated) == (0, 1)
    with read_session(db) as s:
        assert tree.get_unit(s, "G02").attrs == {"members": 61}


def test_moving_a_subtree_repaths_it(db: Engine, tmp_path: Path) -> None:
    load(db, FIXTURES / "tree.csv")
    result = load(db, write_csv(tmp_path, "T01,莞城社区工会联合会,K02,township,community,\n"))
    assert result.moved == 1
    assert codes_under(db, "K02") >= {"T01", "G01", "G02", "S01"}
    assert codes_under(db, "K01") == {"K01"}
    with read_session(db) as s:
        s01 = tree.get_unit(s, "S01")
        assert [u.code for u in tree.ancestors(s, s01)] == ["C01", "K02", "T01", "G01"]
        assert s01.depth == 4


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("X1,某工会,NOPE,grassroots,,\n", "units.csv:3: parent_code: unknown parent NOPE"),
        (
            "X1,某工会,T01,grassroots,,\nX1,另一工会,T01,grassroots,,\n",
            "units.csv:4: code: duplicate code X1 (first on line 3)",
        ),
        ("X1,某工会,T01,village,,\n", "units.csv:3: level: unknown level 'village'"),
        ('X1,某工会,T01,grassroots,,"{members: 1}"\n', "units.csv:3: attrs: bad JSON"),
        ('X1,某工会,T01,grassroots,,"[1]"\n', "units.csv:3: attrs: must be a JSON object"),
        ("X1,某工会,X2,township,,\nX2,另一工会,X1,grassroots,,\n", "cycle: X1 → X2 → X1"),
        ("K01,城区总工会,G01,county,,\n", "units.csv:3: level: county cannot sit under G01"),
        ("X1,某工会,T01,grassroots,Bad Tag,\n", "units.csv:3: tags: tag 'Bad Tag'"),
    ],
)
def test_a_bad_file_is_refused_whole_and_changes_nothing(
    db: Engine, tmp_path: Path, body: str, expected: str
) -> None:
    load(db, FIXTURES / "tree.csv")
    before = dump(db)
    # A good row first: it must not be written either.
    path = write_csv(tmp_path, "OK1,好工会,T01,grassroots,,\n" + body)
    with pytest.raises(ImportRefused) as refused:
        load(db, path)
    message = str(refused.value).replace(str(tmp_path) + "/", "")
    assert expected in message, message
    assert dump(db) == before


def test_moving_under_own_descendant_is_a_cycle(db: Engine, tmp_path: Path) -> None:
    load(db, FIXTURES / "tree.csv")
    before = dump(db)
    with pytest.raises(ImportRefused, match="cycle: G01 lies under T01"):
        load(db, write_csv(tmp_path, "T01,莞城社区工会联合会,G01,township,,\n"))
    assert dump(db) == before


def test_xlsx_import(db: Engine, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["code", "name", "parent_code", "level", "tags", "attrs"])
    sheet.append(["R1", "某市总工会", None, "municipal", None, None])
    sheet.append(["R2", "某区总工会", "R1", "county", "industry", json.dumps({"members": 10})])
    book.save(tmp_path / "units.xlsx")
    result = load(db, tmp_path / "units.xlsx")
    assert result.created == 2
    assert codes_under(db, "R1") == {"R1", "R2"}


def test_subtree_query_uses_the_path_index(db: Engine, backend: str) -> None:
    load(db, FIXTURES / "tree.csv")
    with read_session(db) as s:
        root = tree.get_unit(s, "T01")
        query = select(Unit.id).where(tree.in_subtree(root.path))
        sql = str(query.compile(db, compile_kwargs={"literal_binds": True}))
        if backend == "sqlite":
            plan = " ".join(str(r) for r in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
            assert "SEARCH unit USING" in plan and "(path>? AND path<?)" in plan, plan
        else:
            s.execute(text("SET enable_seqscan = off"))
            plan = " ".join(str(r) for r in s.execute(text("EXPLAIN " + sql)))
            assert "Index" in plan and "path" in plan, plan


def test_people_import(db: Engine, tmp_path: Path) -> None:
    load(db, FIXTURES / "tree.csv")
    path = tmp_path / "people.csv"
    path.write_text(
        "id,name,unit_code,kind,appointed_on,birthday\n"
        "P1,张三,G01,cadre,2026-03-01,\n"
        "P2,李四,G02,member,,1980-05-04\n",
        encoding="utf-8",
    )
    with write_session(db) as s:
        assert import_people(s, NOW, OPERATOR, path) == {"created": 2, "updated": 0, "unchanged": 0}
    before = dump(db)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,unit_code,kind,appointed_on,birthday\nP3,王五,G99,cadre,,\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused, write_session(db) as s:
        import_people(s, NOW, OPERATOR, bad)
    assert "bad.csv:2: unit_code: unknown unit 'G99'" in str(refused.value)
    assert "bad.csv:2: appointed_on: a cadre needs the date of appointment" in str(refused.value)
    assert dump(db) == before


def test_the_audit_log_refuses_update_and_delete(db: Engine) -> None:
    load(db, FIXTURES / "tree.csv")
    for statement in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
        with pytest.raises(Exception, match="append-only"), db.begin() as conn:
            conn.execute(text(statement))
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit WHERE actor = 'operator'")).scalar() == 1


def test_an_account_imports_only_inside_its_subtree(db: Engine, tmp_path: Path) -> None:
    from duban.engine.access.accounts import add_account
    from duban.engine.access.actors import actor_for

    load(db, FIXTURES / "tree.csv")
    with write_session(db) as s:
        add_account(s, NOW, OPERATOR, "k01-admin", "K01", "admin", "password123")
    before = dump(db)
    body = (
        "T09,新街道工会,K01,township,,\n"  # inside: fine on its own
        "X1,越界工会,T02,grassroots,,\n"  # T02 lies under K02
        "G03,改名,T02,grassroots,,\n"  # an existing unit outside the subtree
        "R9,另一市总工会,,municipal,,\n"  # a new top-level union
    )
    with write_session(db) as s, pytest.raises(ImportRefused) as refused:
        import_units(s, NOW, actor_for(s, "k01-admin"), write_csv(tmp_path, body))
    message = str(refused.value).replace(str(tmp_path) + "/", "")
    assert "units.csv:3: parent_code: unknown parent T02" in message
    assert "units.csv:4: code: G03 cannot be used; choose another code" in message
    assert "units.csv:5: parent_code: only the operator adds a top-level union" in message
    assert "units.csv:2" not in message
    assert dump(db) == before
    with write_session(db) as s:
        assert (
            import_units(
                s, NOW, actor_for(s, "k01-admin"), write_csv(tmp_path, body.splitlines()[0] + "\n")
            ).created
            == 1
        )


def test_children_may_come_before_their_parents(db: Engine, tmp_path: Path) -> None:
    header, *rows = (FIXTURES / "tree.csv").read_text(encoding="utf-8").splitlines()
    reversed_file = tmp_path / "reversed.csv"
    reversed_file.write_text("\n".join([header, *reversed(rows)]) + "\n", encoding="utf-8")
    assert load(db, reversed_file).created == 10
    assert codes_under(db, "T01") == {"T01", "G01", "G02", "S01"}
    with read_session(db) as s:
        assert [u.code for u in tree.ancestors(s, tree.get_unit(s, "S01"))] == ["C01", "K01", "T01", "G01"]

"""`plan_schema`: what a schema mode does when a result no longer matches its table (pure).

The table always has ``id INTEGER, v VARCHAR, n INTEGER``; each case changes the result and
says, per mode and for a replacing or an incremental write, what the plan holds. The whole
write under each mode is in test_schema_modes.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from interlace.engines.base import Column
from interlace.schema_modes import (
    SchemaPlan,
    TypeChange,
    differences,
    is_widening,
    normalize,
    plan_schema,
)

TABLE = [Column("id", "INTEGER"), Column("v", "VARCHAR"), Column("n", "INTEGER")]


def result(**changes: str | None) -> list[Column]:
    """The table's columns with ``changes`` (a new type, a new column, or None: removed)."""
    columns = {c.name: c.type for c in TABLE} | changes
    return [Column(name, kind) for name, kind in columns.items() if kind is not None]


@dataclass(frozen=True)
class Plan:
    """The fields of a SchemaPlan a case checks (error: a fragment of the message)."""

    error: str | None = None
    add_to_target: tuple[str, ...] = ()
    widen_target: tuple[TypeChange, ...] = ()
    add_to_staging: tuple[str, ...] = ()
    cast_staging: tuple[TypeChange, ...] = ()
    try_cast: bool = False
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, plan: SchemaPlan) -> Plan:
        return cls(
            error=plan.error,
            add_to_target=tuple(c.name for c in plan.add_to_target),
            widen_target=tuple(plan.widen_target),
            add_to_staging=tuple(c.name for c in plan.add_to_staging),
            cast_staging=tuple(plan.cast_staging),
            try_cast=plan.try_cast,
            notes=tuple(plan.notes),
        )


N_WIDER = TypeChange("n", "INTEGER", "BIGINT")
N_NARROWER = TypeChange("n", "INTEGER", "SMALLINT")
V_TO_INT = TypeChange("v", "VARCHAR", "INTEGER")
N_TO_TEXT = TypeChange("n", "INTEGER", "VARCHAR")
KEPT = "kept removed column(s) n (NULL for new rows)"

CHANGES = {
    "same": result(),
    "added": result(x="VARCHAR"),
    "removed": result(n=None),
    "widened": result(n="BIGINT"),
    "narrowed": result(n="SMALLINT"),
    "varchar_to_int": result(v="INTEGER"),
    "int_to_varchar": result(n="VARCHAR"),
}

# (mode, change) -> {incremental: Plan}; one Plan for both when they agree
EXPECTED: dict[tuple[str, str], Plan | dict[bool, Plan]] = {
    **{("ignore", change): Plan() for change in CHANGES},
    ("strict", "same"): Plan(),
    ("strict", "added"): Plan(error="schema_mode strict forbids changes: new column(s) x"),
    ("strict", "removed"): Plan(error="schema_mode strict forbids changes: removed column(s) n"),
    ("strict", "widened"): Plan(
        error="schema_mode strict forbids changes: type change n: INTEGER -> BIGINT"
    ),
    ("strict", "narrowed"): Plan(
        error="schema_mode strict forbids changes: type change n: INTEGER -> SMALLINT"
    ),
    ("strict", "varchar_to_int"): Plan(
        error="schema_mode strict forbids changes: type change v: VARCHAR -> INTEGER"
    ),
    ("strict", "int_to_varchar"): Plan(
        error="schema_mode strict forbids changes: type change n: INTEGER -> VARCHAR"
    ),
}
for mode in ("safe", "flexible", "lenient"):
    EXPECTED |= {
        (mode, "same"): Plan(),
        # replace: the result becomes the table, new columns and all
        (mode, "added"): {False: Plan(), True: Plan(add_to_target=("x",))},
        # the table keeps a column the result dropped: NULL for new rows
        (mode, "removed"): {
            False: Plan(add_to_staging=("n",), notes=(KEPT,)),
            True: Plan(notes=(KEPT,)),
        },
        (mode, "widened"): {
            False: Plan(notes=("widened n: INTEGER -> BIGINT",)),
            True: Plan(widen_target=(N_WIDER,), notes=("widened n: INTEGER -> BIGINT",)),
        },
        # narrower values fit the table's type: cast, no note
        (mode, "narrowed"): Plan(cast_staging=(N_NARROWER,)),
    }
EXPECTED |= {
    ("safe", "varchar_to_int"): Plan(error="unsafe type change(s): v: VARCHAR -> INTEGER"),
    ("safe", "int_to_varchar"): Plan(error="unsafe type change(s): n: INTEGER -> VARCHAR"),
    ("flexible", "varchar_to_int"): Plan(
        cast_staging=(V_TO_INT,), notes=("coerced v: INTEGER -> VARCHAR",)
    ),
    ("flexible", "int_to_varchar"): Plan(
        cast_staging=(N_TO_TEXT,), notes=("coerced n: VARCHAR -> INTEGER",)
    ),
    ("lenient", "varchar_to_int"): Plan(
        cast_staging=(V_TO_INT,),
        try_cast=True,
        notes=("coerced (TRY_CAST, NULL where a value does not fit) v: INTEGER -> VARCHAR",),
    ),
    ("lenient", "int_to_varchar"): Plan(
        cast_staging=(N_TO_TEXT,),
        try_cast=True,
        notes=("coerced (TRY_CAST, NULL where a value does not fit) n: VARCHAR -> INTEGER",),
    ),
}


@pytest.mark.parametrize("incremental", [False, True], ids=["replace", "incremental"])
@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("mode", ["strict", "safe", "flexible", "lenient", "ignore"])
def test_plan_schema_decides_per_mode_what_a_changed_result_does(
    mode: str, change: str, incremental: bool
) -> None:
    expected = EXPECTED[mode, change]
    if isinstance(expected, dict):
        expected = expected[incremental]
    plan = plan_schema(CHANGES[change], TABLE, mode, incremental=incremental)
    assert Plan.of(plan) == expected
    assert plan.changes_schema == bool(
        expected.add_to_target or expected.widen_target or expected.add_to_staging
    )


def test_strict_lists_every_change_in_one_message() -> None:
    staged = [Column("id", "BIGINT"), Column("v", "VARCHAR"), Column("x", "DATE")]
    plan = plan_schema(staged, TABLE, "strict", incremental=True)
    assert plan.error == (
        "schema_mode strict forbids changes: new column(s) x; removed column(s) n; "
        "type change id: INTEGER -> BIGINT"
    )


def test_safe_reports_every_unsafe_change_and_plans_nothing_else() -> None:
    staged = result(v="INTEGER", n="VARCHAR", x="DATE")
    plan = plan_schema(staged, TABLE, "safe", incremental=True)
    assert plan.error == "unsafe type change(s): v: VARCHAR -> INTEGER; n: INTEGER -> VARCHAR"


def test_several_changes_at_once_are_planned_together() -> None:
    staged = [Column("id", "BIGINT"), Column("v", "INTEGER"), Column("x", "DOUBLE")]
    plan = plan_schema(staged, TABLE, "flexible", incremental=True)
    assert Plan.of(plan) == Plan(
        add_to_target=("x",),
        widen_target=(TypeChange("id", "INTEGER", "BIGINT"),),
        cast_staging=(V_TO_INT,),
        notes=(KEPT, "widened id: INTEGER -> BIGINT", "coerced v: INTEGER -> VARCHAR"),
    )


def test_ignored_columns_are_never_compared() -> None:
    staged = result(n="VARCHAR", x="DATE")
    plan = plan_schema(staged, TABLE, "strict", incremental=True, ignore=frozenset({"n", "x"}))
    assert plan == SchemaPlan()


@pytest.mark.parametrize("incremental", [False, True])
def test_a_column_holding_only_nulls_takes_any_new_type(incremental: bool) -> None:
    staged = result(n="VARCHAR")
    plan = plan_schema(staged, TABLE, "safe", incremental=incremental, null_only=frozenset({"n"}))
    assert plan.error is None
    assert plan.widen_target == ([N_TO_TEXT] if incremental else [])
    assert plan.notes == ["widened n: INTEGER -> VARCHAR"]


def test_type_spellings_of_one_type_are_no_change() -> None:
    staged = [Column("id", "int4"), Column("v", "text"), Column("n", "INT")]
    for mode in ("strict", "safe"):
        assert plan_schema(staged, TABLE, mode, incremental=True) == SchemaPlan()


WIDENING = [
    ("INTEGER", "INTEGER", True),
    ("TINYINT", "SMALLINT", True),
    ("SMALLINT", "INTEGER", True),
    ("INTEGER", "BIGINT", True),
    ("BIGINT", "HUGEINT", True),
    ("BIGINT", "INTEGER", False),
    ("UTINYINT", "UBIGINT", True),
    ("UBIGINT", "UINTEGER", False),
    ("FLOAT", "DOUBLE", True),
    ("REAL", "DOUBLE", True),
    ("DOUBLE", "FLOAT", False),
    ("INTEGER", "DOUBLE", True),
    ("UINTEGER", "DOUBLE", True),
    ("DOUBLE", "INTEGER", False),
    ("VARCHAR(10)", "VARCHAR", True),
    ("VARCHAR", "VARCHAR(10)", False),
    ("DECIMAL(10,2)", "DECIMAL(12,2)", True),
    ("DECIMAL(10,2)", "DECIMAL(11,3)", True),
    ("DECIMAL(10,2)", "DECIMAL(10,3)", False),  # one digit fewer before the point
    ("DECIMAL(10,2)", "DECIMAL(12,1)", False),
    ("INTEGER", "DECIMAL(10,0)", True),
    ("INTEGER", "DECIMAL(12,3)", False),
    ("BIGINT", "DECIMAL(19,0)", True),
    ("INTEGER", "VARCHAR", False),
    ("VARCHAR", "INTEGER", False),
    ("DATE", "TIMESTAMP", False),
    # PostgreSQL spellings are the same types
    ("int4", "int8", True),
    ("integer", "double precision", True),
    ("numeric(10,2)", "numeric(12,2)", True),
    ("character varying", "text", True),
    ("timestamp without time zone", "TIMESTAMP", True),
    # text lengths (MySQL types a literal by its length; NULL is CHAR(0))
    ("VARCHAR(3)", "VARCHAR(5)", True),
    ("VARCHAR(5)", "VARCHAR(3)", False),
    ("CHAR(0)", "VARCHAR(1)", True),
    ("CHAR(2)", "VARCHAR(1)", False),
    ("VARCHAR(2)", "CHAR(5)", False),  # CHAR pads with spaces
    ("VARCHAR(3)", "LONGTEXT", True),
    ("MEDIUMTEXT", "TEXT", True),
]


@pytest.mark.parametrize(("old", "new", "widens"), WIDENING)
def test_is_widening_when_every_old_value_fits_the_new_type(
    old: str, new: str, widens: bool
) -> None:
    assert is_widening(old, new) is widens


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("int", "INTEGER"),
        ("INT8", "BIGINT"),
        ("  double   precision ", "DOUBLE"),
        ("float4", "FLOAT"),
        ("text", "VARCHAR"),
        ("bool", "BOOLEAN"),
        ("numeric(10, 2)", "DECIMAL(10, 2)"),
        ("bytea", "BLOB"),
        ("timestamp with time zone", "TIMESTAMPTZ"),
        ("time without time zone", "TIME"),
        ("varchar(20)", "VARCHAR(20)"),
        ("STRUCT(a INTEGER)", "STRUCT(A INTEGER)"),  # DuckDB names are case-insensitive
    ],
)
def test_normalize_maps_each_spelling_to_one_name(spelling: str, canonical: str) -> None:
    assert normalize(spelling) == canonical


def test_differences_say_in_words_how_a_result_does_not_fit() -> None:
    staged = [Column("id", "INTEGER"), Column("v", "INTEGER"), Column("x", "DATE")]
    assert differences(staged, TABLE) == [
        "column 'v' is VARCHAR in the table but INTEGER in the result",
        "column 'x' (DATE) is not in the table",
        "column 'n' of the table is not in the result",
    ]
    assert differences(TABLE, TABLE) == []
    assert differences(staged, TABLE, ignore=frozenset({"v", "x", "n"})) == []

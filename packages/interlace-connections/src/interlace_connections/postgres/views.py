"""Views that depend on a table being swapped or altered.

PostgreSQL binds a view to the table it reads when the view is created: dropping the table (a
``replace`` swap) or changing a column's type is refused while a view uses it. DuckDB binds
views late, so a view model over a table model just keeps working there. To give PostgreSQL the
same behaviour, the session detaches dependent views (saving their definitions) before such a
statement and recreates them before the transaction commits. If a view no longer fits the new
table (it reads a column that is gone), the transaction fails and names the view.

Grants and comments on the recreated views are not carried over.
"""

from __future__ import annotations

from dataclasses import dataclass

from interlace.errors import ModelExecutionError

# Every view (plain or materialized) that reads ``relid``, directly or through other views,
# with its nesting depth (1: reads the relation itself).
DEPENDENT_VIEWS = """
WITH RECURSIVE deps(oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1
    FROM pg_depend d
    JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass
      AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = %(relid)s
      AND r.ev_class <> %(relid)s
    UNION
    SELECT DISTINCT r.ev_class, deps.depth + 1
    FROM deps
    JOIN pg_depend d ON d.refobjid = deps.oid
    JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass
      AND d.refclassid = 'pg_class'::regclass
      AND r.ev_class <> deps.oid
)
SELECT n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid), max(deps.depth)
FROM deps
JOIN pg_class c ON c.oid = deps.oid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm')
GROUP BY n.nspname, c.relname, c.relkind, c.oid
ORDER BY max(deps.depth), n.nspname, c.relname
"""


@dataclass(frozen=True)
class SavedView:
    schema: str
    name: str
    materialized: bool
    definition: str
    depth: int
    reads: str  # the relation whose change detached it (for messages)

    @property
    def qualified(self) -> str:
        return f"{quote(self.schema)}.{quote(self.name)}"

    def drop_sql(self) -> str:
        kind = "MATERIALIZED VIEW" if self.materialized else "VIEW"
        return f"DROP {kind} {self.qualified}"

    def create_sql(self) -> str:
        kind = "MATERIALIZED VIEW" if self.materialized else "VIEW"
        return f"CREATE {kind} {self.qualified} AS {self.definition.rstrip().rstrip(';')}"

    def recreate_error(self, reason: str) -> ModelExecutionError:
        return ModelExecutionError(
            f"view {self.schema}.{self.name} reads {self.reads} and cannot be recreated after "
            f"the change: {reason}",
            hint="change the view so it fits the new columns (or drop it); nothing was written",
        )


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'

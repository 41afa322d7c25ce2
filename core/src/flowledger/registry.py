"""The registry API every model shares: save, filter, get, one, all, count, df (lamindb's shape).

A model declares its table, its plain fields and its foreign keys; this module turns keyword filters
into SQL (`name=`, `transform=<Transform>`, `transform__name=`, `started_at__gt=`, `uid__startswith=`).
"""

import json
from typing import Any, ClassVar, Self

from .errors import DoesNotExist, FlowledgerError, MultipleResultsFound
from .store import get_ledger

MODELS: dict[str, type["Record"]] = {}
OPERATORS = {
    "exact": "= ?",
    "gt": "> ?",
    "gte": ">= ?",
    "lt": "< ?",
    "lte": "<= ?",
    "contains": "GLOB ?",  # GLOB, not LIKE: case-sensitive, and the pattern is escaped to match literally
    "startswith": "GLOB ?",  # (a literal GLOB prefix still uses the column's index)
    "under": "",  # a path, or anything inside it, whole path components only (see _condition)
}


class Record:
    _table: ClassVar[str]
    _fields: ClassVar[tuple[str, ...]]  # plain columns, besides id
    _foreign: ClassVar[dict[str, tuple[str, str]]] = {}  # attribute -> (column, model name)
    _json_fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        MODELS[cls.__name__] = cls
        for name, (column, model) in cls._foreign.items():
            setattr(cls, name, _ForeignKey(name, column, model))

    def __init__(self, **values: Any):
        self._row: dict[str, Any] = {"id": None}
        self._related: dict[str, Any] = {}
        for name in self._fields:
            self._row.setdefault(name, None)
        for column, _ in self._foreign.values():
            self._row.setdefault(column, None)
        for name, value in values.items():
            if name in self._foreign or name in self._fields or name == "id":
                setattr(self, name, value)
            else:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")

    def __getattr__(self, name: str) -> Any:
        row = self.__dict__.get("_row")
        if row is not None and name in row:
            value = row[name]
            if name in self._json_fields and isinstance(value, str):
                value = row[name] = json.loads(value)
            return value
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name in self._foreign or not hasattr(self, "_row"):
            object.__setattr__(self, name, value)
        elif name in self._fields or name == "id":
            self._row[name] = value
        else:
            object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.id is not None and other.id == self.id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._row.items() if v is not None and k != "source_code")
        return f"{type(self).__name__}({shown})"

    @classmethod
    def _from_row(cls, row: dict, ledger=None) -> "Record":
        record = cls.__new__(cls)
        object.__setattr__(record, "_related", {})
        record._take_row(row, ledger)
        return record

    def _take_row(self, row: dict, ledger) -> None:
        """This record's state is `row`, as the ledger holds it now."""
        object.__setattr__(self, "_row", dict(row))
        object.__setattr__(self, "_ledger_ref", ledger)
        object.__setattr__(self, "_stored", dict(row))  # what `save()` compares with, to write only changes

    @classmethod
    def _condition(cls, name: str, op: str, value: Any) -> tuple | None:
        """A model's own SQL for a filter (sql, *params), or None for the usual one."""
        return None

    @property
    def _store(self):
        """The ledger this record came from (the default ledger for new records)."""
        return self.__dict__.get("_ledger_ref") or get_ledger()

    def _ledger_for_saving(self, *others: Any):
        """This record's ledger, after checking that the records it refers to are of the same ledger."""
        ledger = self._store
        for other in (*self._related.values(), *others):
            theirs = other.__dict__.get("_ledger_ref") if isinstance(other, Record) else None
            if theirs is not None and theirs is not ledger and theirs.path != ledger.path:
                raise FlowledgerError(
                    f"{type(other).__name__} {other.uid} belongs to ledger {theirs.path}, not to ledger "
                    f"{ledger.path} where this {type(self).__name__} is saved: records cannot be mixed across ledgers"
                )
        return ledger

    @classmethod
    def using(cls, ledger) -> "Query":
        """Query another ledger than the default one."""
        return Query(cls, ledger=ledger)

    @classmethod
    def filter(cls, **fields: Any) -> "Query":
        return Query(cls).filter(**fields)

    @classmethod
    def all(cls) -> list:
        return Query(cls).all()

    @classmethod
    def df(cls):
        return Query(cls).df()

    @classmethod
    def get(cls, key: int | str | None = None, **fields: Any) -> "Record":
        """By integer id, by uid (a unique uid prefix is enough), or by fields."""
        if isinstance(key, int):
            fields["id"] = key
        elif isinstance(key, str):
            exact = Query(cls).filter(uid=key).one_or_none()
            if exact is not None:
                return exact
            fields["uid__startswith"] = key
        return Query(cls).filter(**fields).one()

    def to_dict(self) -> dict:
        data = {}
        for name in ("id", *self._fields):
            data[name] = getattr(self, name)
        for name, (column, _) in self._foreign.items():
            data[f"{name}_id"] = self._row.get(column)
        return data

    def _become(self, record_id: int, ledger) -> Self:
        """Take the saved row `record_id` as this record's state (after an insert)."""
        fresh = Query(type(self), ledger=ledger).filter(id=record_id).one()
        object.__setattr__(self, "_related", {})
        self._take_row(fresh._row, ledger)
        return self

    def refresh(self) -> Self:
        row = self._store.query(f"SELECT * FROM {self._table} WHERE id = ?", (self.id,))
        object.__setattr__(self, "_related", {})
        self._take_row(row[0], self.__dict__.get("_ledger_ref"))
        return self


class _ForeignKey:
    """A lazy link to another model, stored in `<column>`; accepts a record or an id."""

    def __init__(self, name: str, column: str, model: str):
        self.name, self.column, self.model = name, column, model

    def __get__(self, record, owner=None):
        if record is None:
            return self
        if self.name not in record._related:
            key = record._row.get(self.column)
            target = Query(MODELS[self.model], ledger=record.__dict__.get("_ledger_ref"))
            record._related[self.name] = target.filter(id=key).one() if key is not None else None
        return record._related[self.name]

    def __set__(self, record, value):
        record._related[self.name] = value if isinstance(value, Record) else None
        record._row[self.column] = value.id if isinstance(value, Record) else value


class Query:
    """A lazy SELECT over one model; iterate it or call one(), all(), count(), df()."""

    def __init__(
        self, model: type[Record], where: list | None = None, params: list | None = None, order: str = "id", ledger=None
    ):
        self.model, self.where, self.params, self.order = model, where or [], params or [], order
        self._ledger = ledger

    @property
    def ledger(self):
        return self._ledger or get_ledger()

    def _copy(self, where: list, params: list) -> "Query":
        return Query(self.model, where, params, self.order, self._ledger)

    def where_sql(self, clause: str, *params: Any) -> "Query":
        return self._copy([*self.where, clause], [*self.params, *params])

    def filter(self, **fields: Any) -> "Query":
        query = self
        for key, value in fields.items():
            query = query.where_sql(*_condition(self.model, key, value))
        return query

    def order_by(self, column: str) -> "Query":
        descending = column.startswith("-")
        name = column.lstrip("-")
        if name not in ("id", *self.model._fields) and name not in {c for c, _ in self.model._foreign.values()}:
            raise FlowledgerError(f"{self.model.__name__} cannot be ordered by {name!r}")
        query = self._copy(self.where, self.params)
        query.order = f"{name} {'DESC' if descending else 'ASC'}"
        return query

    def _sql(self, select: str = "*") -> str:
        where = f" WHERE {' AND '.join(self.where)}" if self.where else ""
        return f"SELECT {select} FROM {self.model._table}{where}"

    def _rows(self, limit: int | None = None) -> list[dict]:
        sql = self._sql() + f" ORDER BY {self.order}" + (f" LIMIT {limit}" if limit else "")
        return self.ledger.query(sql, self.params)

    def all(self) -> list:
        ledger = self.ledger
        return [self.model._from_row(row, ledger) for row in self._rows()]

    def __iter__(self):
        return iter(self.all())

    def __len__(self) -> int:
        return self.count()

    def count(self) -> int:
        return self.ledger.query(self._sql("count(*) AS n"), self.params)[0]["n"]

    def first(self):
        rows = self._rows(limit=1)
        return self.model._from_row(rows[0], self.ledger) if rows else None

    def one(self):
        rows = self._rows(limit=2)
        if len(rows) == 1:
            return self.model._from_row(rows[0], self.ledger)
        described = self._describe()
        if not rows:
            raise DoesNotExist(f"no {self.model.__name__} matches {described}")
        raise MultipleResultsFound(f"several {self.model.__name__} records match {described}; filter further")

    def one_or_none(self):
        try:
            return self.one()
        except DoesNotExist:
            return None

    def df(self):
        import pandas as pd  # only when asked

        records = [r.to_dict() for r in self.all()]
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
        return frame.set_index("id") if "id" in frame else frame

    def _describe(self) -> str:
        return " AND ".join(self.where).replace("?", "{}").format(*map(repr, self.params)) or "(no filter)"

    def __repr__(self) -> str:
        return f"<Query {self.model.__name__} where {self._describe()}>"


def _condition(model: type[Record], key: str, value: Any, plain: bool = False) -> tuple:
    """Translate one keyword filter into (sql, *params); `plain` skips the model's own conditions."""
    name, _, op = key.partition("__")
    if name in model._foreign:
        column, other = model._foreign[name]
        if op and op not in OPERATORS and op not in ("in", "isnull"):  # a field of the related model
            target = MODELS[other]
            inner, *params = _condition(target, op, value)
            return (f"{column} IN (SELECT id FROM {target._table} WHERE {inner})", *params)
        name = column
        if isinstance(value, Record):
            value = value.id
        elif isinstance(value, (list, tuple, set)):
            value = [v.id if isinstance(v, Record) else v for v in value]
    elif name not in ("id", *model._fields):
        raise FlowledgerError(f"{model.__name__} has no field {name!r} to filter on")
    op = op or "exact"
    custom = None if plain else model._condition(name, op, value)
    if custom is not None:
        return custom
    if op == "isnull":
        return (f"{name} IS {'' if value else 'NOT '}NULL",)
    if op == "in":
        values = list(value)
        return (f"{name} IN ({', '.join('?' * len(values))})" if values else "1 = 0", *values)
    if op not in OPERATORS:
        raise FlowledgerError(f"unknown filter {key!r} on {model.__name__}")
    if value is None and op == "exact":
        return (f"{name} IS NULL",)
    if op == "contains":
        value = f"*{glob_literal(str(value))}*"
    elif op == "startswith":
        value = f"{glob_literal(str(value))}*"
    elif op == "under":
        folder = str(value).rstrip("/") or "/"
        return (f"({name} = ? OR {name} GLOB ?)", folder, f"{glob_literal(folder.rstrip('/'))}/*")
    if name in model._json_fields and not isinstance(value, str):
        value = json.dumps(value, sort_keys=True)
    return (f"{name} {OPERATORS[op]}", value)


def glob_literal(text: str) -> str:
    """`text` as a GLOB pattern that matches exactly it: `*`, `?` and `[` each put in brackets."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)

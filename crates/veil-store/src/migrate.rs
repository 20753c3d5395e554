//! `veil migrate-db`: copies an embedded installation's metadata (SQLite) into
//! a PostgreSQL database, verified before it is committed.
//!
//! The copy reads SQLite with `rusqlite` and writes PostgreSQL with the
//! `postgres` client directly (not through `Db`): it moves every table as it
//! is, ids included, which no repository method does. In order:
//!
//! 1. the data directory's lock is taken (no server may be running) and the
//!    database opened read-only; a schema older than this build's is refused
//!    (the server migrates it at its next start);
//! 2. PostgreSQL is brought to the same schema version (`migrate_postgres`)
//!    and refused if any Veil table holds a row: a copy never merges two
//!    installations;
//! 3. both sides must have the same tables and columns; the tables are
//!    copied parents first (the order comes from SQLite's
//!    `pragma_foreign_key_list`), each with one binary `COPY … FROM STDIN`,
//!    columns by name, values mapped by the target column's type, all in
//!    one PostgreSQL transaction. The append-only triggers refuse updates,
//!    deletes and `TRUNCATE`, never inserts;
//! 4. every identity column's sequence is moved past the table's largest id
//!    and past SQLite's `sqlite_sequence` (ids of deleted rows, such as
//!    destroyed bucket keys, are never handed out again);
//! 5. per table, the row count and a SHA-256 digest of all rows in
//!    primary-key order (the same canonical encoding of each value on both
//!    sides, the PostgreSQL side read back inside the transaction) must be
//!    equal; any difference rolls everything back, naming the table.
//!
//! The caller (`veil migrate-db`) then verifies the access record and the
//! recording chains on PostgreSQL through `Db::open_postgres`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use ring::digest;
use rusqlite::types::ValueRef;

use crate::db::{migrate_postgres, redact_postgres_url, PG_SCHEMA_VERSION, SCHEMA_VERSION};
use crate::{DataDir, Error};

/// One table's figures after the copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCopy {
    /// The table.
    pub table: String,
    /// Rows copied (equal on both sides).
    pub rows: u64,
    /// SHA-256 of the rows in primary-key order (equal on both sides).
    pub digest: [u8; 32],
}

/// What a migration did.
#[derive(Clone, Debug)]
pub struct MigrateReport {
    /// Every table, in the order copied (parents first).
    pub tables: Vec<TableCopy>,
    /// The schema version of both sides.
    pub schema_version: usize,
    /// Time taken by the copy and its verification, up to the commit.
    pub elapsed: Duration,
}

impl MigrateReport {
    /// Rows copied in all.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// A value in the canonical form both sides are digested in, mapped by the
/// PostgreSQL column's type.
#[derive(Debug)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

impl Value {
    /// Appends the canonical encoding: a tag, then a fixed-width number or a
    /// length-prefixed byte string.
    fn digest_into(&self, ctx: &mut digest::Context) {
        match self {
            Value::Null => ctx.update(&[0]),
            Value::Int(i) => {
                ctx.update(&[1]);
                ctx.update(&i.to_be_bytes());
            }
            Value::Real(f) => {
                ctx.update(&[2]);
                ctx.update(&f.to_bits().to_be_bytes());
            }
            Value::Text(s) => {
                ctx.update(&[3]);
                ctx.update(&(s.len() as u64).to_be_bytes());
                ctx.update(s.as_bytes());
            }
            Value::Bytes(b) => {
                ctx.update(&[4]);
                ctx.update(&(b.len() as u64).to_be_bytes());
                ctx.update(b);
            }
            Value::Bool(b) => ctx.update(&[5, u8::from(*b)]),
        }
    }

    /// The value to bind; a NULL is typed as the column (binary `COPY`
    /// checks each parameter's type).
    fn as_sql(&self, ty: &Type) -> &(dyn ToSql + Sync) {
        const INT8: Option<i64> = None;
        const INT4: Option<i32> = None;
        const INT2: Option<i16> = None;
        const FLOAT8: Option<f64> = None;
        const FLOAT4: Option<f32> = None;
        const TEXT: Option<String> = None;
        const BYTEA: Option<Vec<u8>> = None;
        const BOOL: Option<bool> = None;
        match self {
            Value::Null => match *ty {
                Type::INT8 => &INT8,
                Type::INT4 => &INT4,
                Type::INT2 => &INT2,
                Type::FLOAT8 => &FLOAT8,
                Type::FLOAT4 => &FLOAT4,
                Type::BYTEA => &BYTEA,
                Type::BOOL => &BOOL,
                _ => &TEXT,
            },
            Value::Int(i) => i,
            Value::Real(f) => f,
            Value::Text(s) => s,
            Value::Bytes(b) => b,
            Value::Bool(b) => b,
        }
    }
}

/// A column of the target: its name and PostgreSQL type.
struct Column {
    name: String,
    ty: Type,
}

/// A table to copy: its columns (SQLite's order) and its ordering key.
struct Table {
    name: String,
    columns: Vec<Column>,
    /// Primary-key columns in key order, or every column where the table
    /// has no primary key.
    order: Vec<String>,
}

fn db_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Database(format!("{what}: {e}"))
}

/// The PostgreSQL type for a column's `data_type` in `information_schema`.
fn pg_type(table: &str, column: &str, data_type: &str) -> Result<Type, Error> {
    Ok(match data_type {
        "bigint" => Type::INT8,
        "integer" => Type::INT4,
        "smallint" => Type::INT2,
        "double precision" => Type::FLOAT8,
        "real" => Type::FLOAT4,
        "text" => Type::TEXT,
        "character varying" => Type::VARCHAR,
        "bytea" => Type::BYTEA,
        "boolean" => Type::BOOL,
        other => {
            return Err(Error::Invalid(format!(
                "table {table} column {column}: PostgreSQL type {other} is not one a copy maps"
            )))
        }
    })
}

/// Maps a SQLite value to the column's PostgreSQL type.
fn map_value(table: &str, column: &Column, v: ValueRef<'_>) -> Result<Value, Error> {
    let bad = || {
        Error::Invalid(format!(
            "table {table} column {}: a {} value cannot go into a PostgreSQL {} column",
            column.name,
            match v {
                ValueRef::Null => "NULL",
                ValueRef::Integer(_) => "INTEGER",
                ValueRef::Real(_) => "REAL",
                ValueRef::Text(_) => "TEXT",
                ValueRef::Blob(_) => "BLOB",
            },
            column.ty
        ))
    };
    Ok(match (v, &column.ty) {
        (ValueRef::Null, _) => Value::Null,
        (ValueRef::Integer(i), t) if *t == Type::INT8 => Value::Int(i),
        (ValueRef::Integer(i), t) if *t == Type::INT4 && i32::try_from(i).is_ok() => Value::Int(i),
        (ValueRef::Integer(i), t) if *t == Type::INT2 && i16::try_from(i).is_ok() => Value::Int(i),
        (ValueRef::Integer(i), t) if *t == Type::BOOL && (i == 0 || i == 1) => Value::Bool(i == 1),
        (ValueRef::Integer(i), t) if *t == Type::FLOAT8 => Value::Real(i as f64),
        (ValueRef::Real(f), t) if *t == Type::FLOAT8 => Value::Real(f),
        (ValueRef::Text(s), t) if *t == Type::TEXT || *t == Type::VARCHAR => {
            Value::Text(String::from_utf8(s.to_vec()).map_err(|_| bad())?)
        }
        (ValueRef::Blob(b), t) if *t == Type::BYTEA => Value::Bytes(b.to_vec()),
        _ => return Err(bad()),
    })
}

/// Reads column `i` of a PostgreSQL row in the canonical form.
fn pg_value(row: &postgres::Row, i: usize, ty: &Type) -> Result<Value, postgres::Error> {
    Ok(if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into()))
    } else if *ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?.map(Value::Real)
    } else if *ty == Type::FLOAT4 {
        row.try_get::<_, Option<f32>>(i)?
            .map(|v| Value::Real(v.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?.map(Value::Bool)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes)
    } else {
        row.try_get::<_, Option<String>>(i)?.map(Value::Text)
    }
    .unwrap_or(Value::Null))
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Checks the syntax of a PostgreSQL URL (`postgres://user@host:port/db`,
/// or `postgresql://`) without connecting. The error never quotes it (it may
/// hold a password).
pub fn check_postgres_url(url: &str) -> Result<(), Error> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Error::Invalid(
            "the database URL must begin with postgres:// or postgresql://".into(),
        ));
    }
    // Syntax, and sslmode: plaintext only to a loopback host or a socket.
    crate::db::pg_tls::check(url)?;
    Ok(())
}

/// Takes the data directory's lock: the same one a running server holds.
pub fn lock_data_dir(data: &Path) -> Result<std::fs::File, Error> {
    let d = DataDir::new(data);
    if !d.database().exists() {
        return Err(Error::NotFound(format!(
            "{} is not a Veil data directory (no veil.db)",
            data.display()
        )));
    }
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(d.lock_file())?;
    if lock.try_lock().is_err() {
        return Err(Error::Invalid(format!(
            "the data directory {} is in use by another Veil process: stop the server first",
            data.display()
        )));
    }
    Ok(lock)
}

/// Opens the embedded database read-only, refusing a schema other than
/// this build's.
fn open_sqlite(data: &Path) -> Result<rusqlite::Connection, Error> {
    let path = DataDir::new(data).database();
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| db_err("the embedded database", e))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| db_err("the embedded database", e))?;
    if version < SCHEMA_VERSION as i64 {
        return Err(Error::Invalid(format!(
            "the embedded database has schema version {version}, older than this build's \
             ({SCHEMA_VERSION}): start the server once with this build to migrate it, stop it, \
             then copy"
        )));
    }
    if version > SCHEMA_VERSION as i64 {
        return Err(Error::Invalid(format!(
            "the embedded database has schema version {version}, newer than this build \
             ({SCHEMA_VERSION}); upgrade Veil"
        )));
    }
    Ok(conn)
}

/// SQLite's tables (not its own `sqlite_*` ones), parents before the
/// tables whose foreign keys reference them; ties alphabetical.
fn sqlite_copy_order(conn: &rusqlite::Connection) -> Result<Vec<String>, Error> {
    let e = |e| db_err("the embedded database", e);
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )
        .map_err(e)?;
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .map_err(e)?
        .collect::<Result<_, _>>()
        .map_err(e)?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in &tables {
        let mut stmt = conn
            .prepare("SELECT \"table\" FROM pragma_foreign_key_list(?1)")
            .map_err(e)?;
        let refs: BTreeSet<String> = stmt
            .query_map([t], |r| r.get(0))
            .map_err(e)?
            .collect::<Result<_, _>>()
            .map_err(e)?;
        // A table referencing itself is copied in key order.
        parents.insert(t.clone(), refs.into_iter().filter(|p| p != t).collect());
    }
    let mut order = Vec::with_capacity(tables.len());
    let mut done = BTreeSet::new();
    while order.len() < tables.len() {
        let ready: Vec<String> = parents
            .iter()
            .filter(|(t, ps)| !done.contains(*t) && ps.iter().all(|p| done.contains(p)))
            .map(|(t, _)| t.clone())
            .collect();
        if ready.is_empty() {
            let left: Vec<&String> = tables.iter().filter(|t| !done.contains(*t)).collect();
            return Err(Error::Invalid(format!(
                "the foreign keys of tables {left:?} form a cycle (or name a missing table): \
                 no copy order"
            )));
        }
        for t in ready {
            done.insert(t.clone());
            order.push(t);
        }
    }
    Ok(order)
}

/// The tables in copy order with their columns, checked to be the same on
/// both sides.
fn plan(sqlite: &rusqlite::Connection, pg: &mut postgres::Client) -> Result<Vec<Table>, Error> {
    let pe = |e| db_err("PostgreSQL", e);
    let se = |e| db_err("the embedded database", e);
    let order = sqlite_copy_order(sqlite)?;
    let mut pg_columns: BTreeMap<String, HashMap<String, Type>> = BTreeMap::new();
    for row in pg
        .query(
            "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
             FROM information_schema.columns c JOIN information_schema.tables t \
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
               AND c.table_name <> 'schema_version'",
            &[],
        )
        .map_err(pe)?
    {
        let (t, c, ty): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let ty = pg_type(&t, &c, &ty)?;
        pg_columns.entry(t).or_default().insert(c, ty);
    }
    let sqlite_set: BTreeSet<&String> = order.iter().collect();
    let pg_set: BTreeSet<&String> = pg_columns.keys().collect();
    if sqlite_set != pg_set {
        let only_sqlite: Vec<_> = sqlite_set.difference(&pg_set).collect();
        let only_pg: Vec<_> = pg_set.difference(&sqlite_set).collect();
        return Err(Error::Invalid(format!(
            "the two schemas differ: tables only in SQLite {only_sqlite:?}, only in PostgreSQL \
             {only_pg:?}"
        )));
    }
    let mut tables = Vec::with_capacity(order.len());
    for name in order {
        let mut stmt = sqlite
            .prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(se)?;
        let cols: Vec<(String, i64)> = stmt
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(se)?
            .collect::<Result<_, _>>()
            .map_err(se)?;
        let target = &pg_columns[&name];
        if cols.len() != target.len() {
            return Err(Error::Invalid(format!(
                "table {name}: {} columns in SQLite, {} in PostgreSQL",
                cols.len(),
                target.len()
            )));
        }
        let mut columns = Vec::with_capacity(cols.len());
        for (c, _) in &cols {
            let ty = target.get(c).ok_or_else(|| {
                Error::Invalid(format!("table {name}: column {c} is not in PostgreSQL"))
            })?;
            columns.push(Column {
                name: c.clone(),
                ty: ty.clone(),
            });
        }
        let mut key: Vec<(i64, String)> = cols
            .iter()
            .filter(|(_, pk)| *pk > 0)
            .map(|(c, pk)| (*pk, c.clone()))
            .collect();
        key.sort();
        let order = if key.is_empty() {
            cols.iter().map(|(c, _)| c.clone()).collect()
        } else {
            key.into_iter().map(|(_, c)| c).collect()
        };
        tables.push(Table {
            name,
            columns,
            order,
        });
    }
    Ok(tables)
}

/// Refuses a target where any Veil table holds a row.
fn refuse_data(pg: &mut postgres::Client, tables: &[Table], shown: &str) -> Result<(), Error> {
    for t in tables {
        let any: bool = pg
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", quote(&t.name)),
                &[],
            )
            .map_err(|e| db_err("PostgreSQL", e))?
            .get(0);
        if any {
            return Err(Error::Invalid(format!(
                "PostgreSQL database {shown} already holds data (table {}): a copy goes into \
                 an empty database only, never merging two installations",
                t.name
            )));
        }
    }
    Ok(())
}

/// Refuses a target whose tables (whatever their schema version, but for
/// `schema_version`) hold any row: checked before the schema is migrated,
/// so a refused database is left as it was.
fn refuse_any_data(pg: &mut postgres::Client, shown: &str) -> Result<(), Error> {
    let names: Vec<String> = pg
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
               AND table_name <> 'schema_version' ORDER BY table_name",
            &[],
        )
        .map_err(|e| db_err("PostgreSQL", e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in names {
        let any: bool = pg
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", quote(&name)),
                &[],
            )
            .map_err(|e| db_err("PostgreSQL", e))?
            .get(0);
        if any {
            return Err(Error::Invalid(format!(
                "PostgreSQL database {shown} already holds data (table {name}): a copy goes \
                 into an empty database only, never merging two installations"
            )));
        }
    }
    Ok(())
}

/// Copies one table with a binary `COPY`, returning its row count and the
/// digest of the rows as read from SQLite.
fn copy_table(
    sqlite: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    t: &Table,
) -> Result<(u64, [u8; 32]), Error> {
    let se = |e| db_err(&format!("table {}: reading SQLite", t.name), e);
    let pe = |e| db_err(&format!("table {}: writing PostgreSQL", t.name), e);
    let cols: Vec<String> = t.columns.iter().map(|c| quote(&c.name)).collect();
    // Bytewise whatever a column's declared collation (it applies to text
    // only); SQLite sorts NULLs first.
    let order: Vec<String> = t
        .order
        .iter()
        .map(|c| format!("{} COLLATE BINARY", quote(c)))
        .collect();
    let mut stmt = sqlite
        .prepare(&format!(
            "SELECT {} FROM {} ORDER BY {}",
            cols.join(", "),
            quote(&t.name),
            order.join(", ")
        ))
        .map_err(se)?;
    let types: Vec<Type> = t.columns.iter().map(|c| c.ty.clone()).collect();
    let sink = tx
        .copy_in(&format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            quote(&t.name),
            cols.join(", ")
        ))
        .map_err(pe)?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut rows = stmt.query([]).map_err(se)?;
    let mut n = 0u64;
    let mut values = Vec::with_capacity(t.columns.len());
    while let Some(row) = rows.next().map_err(se)? {
        values.clear();
        for (i, c) in t.columns.iter().enumerate() {
            let v = map_value(&t.name, c, row.get_ref(i).map_err(se)?)?;
            v.digest_into(&mut ctx);
            values.push(v);
        }
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .zip(&types)
            .map(|(v, ty)| v.as_sql(ty))
            .collect();
        writer.write(&refs).map_err(pe)?;
        n += 1;
    }
    writer.finish().map_err(pe)?;
    Ok((n, ctx.finish().as_ref().try_into().expect("32 bytes")))
}

/// Reads a table back from PostgreSQL in key order: its row count and digest.
fn digest_pg(tx: &mut postgres::Transaction<'_>, t: &Table) -> Result<(u64, [u8; 32]), Error> {
    let pe = |e| db_err(&format!("table {}: reading PostgreSQL back", t.name), e);
    let cols: Vec<String> = t.columns.iter().map(|c| quote(&c.name)).collect();
    // Text compares by bytes in SQLite and NULLs sort first: the same order
    // here whatever the database's collation.
    let order: Vec<String> = t
        .order
        .iter()
        .map(|c| {
            let text = t
                .columns
                .iter()
                .any(|col| &col.name == c && (col.ty == Type::TEXT || col.ty == Type::VARCHAR));
            if text {
                format!("{} COLLATE \"C\" NULLS FIRST", quote(c))
            } else {
                format!("{} NULLS FIRST", quote(c))
            }
        })
        .collect();
    let stmt = tx
        .prepare(&format!(
            "SELECT {} FROM {} ORDER BY {}",
            cols.join(", "),
            quote(&t.name),
            order.join(", ")
        ))
        .map_err(pe)?;
    let mut it = tx
        .query_raw(&stmt, std::iter::empty::<&(dyn ToSql + Sync)>())
        .map_err(pe)?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut n = 0u64;
    use postgres::fallible_iterator::FallibleIterator;
    while let Some(row) = it.next().map_err(pe)? {
        for (i, c) in t.columns.iter().enumerate() {
            pg_value(&row, i, &c.ty).map_err(pe)?.digest_into(&mut ctx);
        }
        n += 1;
    }
    Ok((n, ctx.finish().as_ref().try_into().expect("32 bytes")))
}

/// Moves every identity column's sequence past the table's largest id and
/// past SQLite's `sqlite_sequence` for it, so the next insert gets a fresh id.
fn set_identities(
    sqlite: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
) -> Result<(), Error> {
    let pe = |e| db_err("PostgreSQL: moving the identities", e);
    let mut used: HashMap<String, i64> = HashMap::new();
    let has_sequence: bool = sqlite
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| db_err("the embedded database", e))?;
    if has_sequence {
        let mut stmt = sqlite
            .prepare("SELECT name, seq FROM sqlite_sequence")
            .map_err(|e| db_err("the embedded database", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| db_err("the embedded database", e))?;
        for r in rows {
            let (name, seq) = r.map_err(|e| db_err("the embedded database", e))?;
            used.insert(name, seq);
        }
    }
    let identities = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )
        .map_err(pe)?;
    for row in identities {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        let max: Option<i64> = tx
            .query_one(
                &format!("SELECT MAX({}) FROM {}", quote(&column), quote(&table)),
                &[],
            )
            .map_err(pe)?
            .get(0);
        let last = max.unwrap_or(0).max(used.get(&table).copied().unwrap_or(0));
        // setval(seq, v, true): the next value is v + 1; (1, false): 1.
        tx.query_one(
            "SELECT setval(pg_get_serial_sequence($1, $2), GREATEST($3::bigint, 1), $3::bigint > 0)",
            &[&quote(&table), &column, &last],
        )
        .map_err(pe)?;
    }
    Ok(())
}

/// Copies the embedded installation in `data` into the PostgreSQL database
/// at `url`, verified, in one transaction; `progress` is told of each
/// table as it is copied. Nothing is committed on any error. Errors name
/// the database by its address with the password removed. Takes the data
/// directory's lock for the time of the copy.
pub fn migrate_to_postgres(
    data: &Path,
    url: &str,
    progress: &mut (dyn FnMut(&TableCopy) + Send),
) -> Result<MigrateReport, Error> {
    let _lock = lock_data_dir(data)?;
    copy_to_postgres(data, url, progress)
}

/// [`migrate_to_postgres`] where the caller already holds the data
/// directory's lock ([`lock_data_dir`]).
pub fn copy_to_postgres(
    data: &Path,
    url: &str,
    progress: &mut (dyn FnMut(&TableCopy) + Send),
) -> Result<MigrateReport, Error> {
    let sqlite = open_sqlite(data)?;
    if PG_SCHEMA_VERSION != SCHEMA_VERSION {
        return Err(Error::Invalid(format!(
            "this build's schemas differ in version (SQLite {SCHEMA_VERSION}, PostgreSQL \
             {PG_SCHEMA_VERSION})"
        )));
    }
    let shown = redact_postgres_url(url);
    crate::db::sql::off_runtime(move || {
        let named = |e: Error| match e {
            Error::Invalid(m) if m.starts_with("PostgreSQL database") => Error::Invalid(m),
            Error::Invalid(m) => Error::Invalid(format!("PostgreSQL database {shown}: {m}")),
            Error::Database(m) => Error::Database(format!(
                "PostgreSQL database {shown}: {}",
                crate::db::redact_message(&m, url)
            )),
            e => e,
        };
        let start = Instant::now();
        // TLS as the URL's sslmode says; errors name the database already.
        let mut pg = crate::db::pg_tls::connect(url)?;
        // A target holding data is refused before its schema is touched.
        refuse_any_data(&mut pg, &shown)?;
        migrate_postgres(&mut pg).map_err(named)?;
        let tables = plan(&sqlite, &mut pg).map_err(named)?;
        refuse_data(&mut pg, &tables, &shown)?;
        // One snapshot of SQLite for the whole copy (the lock keeps writers
        // out as well).
        sqlite
            .execute_batch("BEGIN")
            .map_err(|e| db_err("the embedded database", e))?;
        let mut tx = pg
            .transaction()
            .map_err(|e| named(db_err("PostgreSQL", e)))?;
        let mut copied = Vec::with_capacity(tables.len());
        for t in &tables {
            let (rows, digest) = copy_table(&sqlite, &mut tx, t).map_err(named)?;
            let c = TableCopy {
                table: t.name.clone(),
                rows,
                digest,
            };
            progress(&c);
            copied.push(c);
        }
        set_identities(&sqlite, &mut tx).map_err(named)?;
        for (t, c) in tables.iter().zip(&copied) {
            let (rows, digest) = digest_pg(&mut tx, t).map_err(named)?;
            if rows != c.rows {
                return Err(Error::Database(format!(
                    "verification failed: table {} has {} rows in SQLite and {rows} in \
                     PostgreSQL; nothing was committed",
                    t.name, c.rows
                )));
            }
            if digest != c.digest {
                return Err(Error::Database(format!(
                    "verification failed: table {}'s rows differ between SQLite and \
                     PostgreSQL (digest); nothing was committed",
                    t.name
                )));
            }
        }
        tx.commit()
            .map_err(|e| named(db_err("PostgreSQL: commit", e)))?;
        let _ = sqlite.execute_batch("COMMIT");
        Ok(MigrateReport {
            tables: copied,
            schema_version: SCHEMA_VERSION,
            elapsed: start.elapsed(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_order_puts_every_parent_first_and_names_every_table() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("veil.db")).unwrap();
        drop(db);
        let conn = rusqlite::Connection::open(dir.path().join("veil.db")).unwrap();
        let order = sqlite_copy_order(&conn).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .unwrap();
        let all: BTreeSet<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(order.iter().cloned().collect::<BTreeSet<_>>(), all);
        assert_eq!(order.len(), all.len());
        let at: HashMap<&String, usize> = order.iter().enumerate().map(|(i, t)| (t, i)).collect();
        let mut checked = 0;
        for t in &order {
            let mut stmt = conn
                .prepare("SELECT \"table\" FROM pragma_foreign_key_list(?1)")
                .unwrap();
            let parents: Vec<String> = stmt
                .query_map([t], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for p in parents.iter().filter(|p| *p != t) {
                assert!(at[p] < at[t], "{p} must be copied before {t}");
                checked += 1;
            }
        }
        assert!(checked > 10, "only {checked} references checked");
    }

    #[test]
    fn values_are_mapped_by_the_target_type_or_refused_naming_the_column() {
        let int8 = Column {
            name: "n".into(),
            ty: Type::INT8,
        };
        assert!(matches!(
            map_value("t", &int8, ValueRef::Integer(5)).unwrap(),
            Value::Int(5)
        ));
        assert!(matches!(
            map_value("t", &int8, ValueRef::Null).unwrap(),
            Value::Null
        ));
        let e = map_value("t", &int8, ValueRef::Text(b"x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("table t column n"), "{e}");
        let bytea = Column {
            name: "b".into(),
            ty: Type::BYTEA,
        };
        assert!(matches!(
            map_value("t", &bytea, ValueRef::Blob(&[1, 2])).unwrap(),
            Value::Bytes(b) if b == [1, 2]
        ));
        assert!(map_value("t", &bytea, ValueRef::Integer(1)).is_err());
    }
}

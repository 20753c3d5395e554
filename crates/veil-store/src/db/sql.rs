//! The SQL facade: the small part of rusqlite's API that the repository layer
//! uses (a connection, transactions, statements, rows, parameters, errors),
//! running each statement on SQLite or on PostgreSQL. Every method of `Db`
//! keeps one SQL text for both backends.
//!
//! - Parameters are written `?N` (or `?`); for PostgreSQL the text is
//!   rewritten to `$N` once per statement (a lexer that skips string
//!   literals, quoted identifiers and comments) and the prepared statement is
//!   cached by its text.
//! - Values cross as [`Value`] (`Null`, `Integer`, `Real`, `Text`, `Blob`:
//!   SQLite's storage classes). Bound to PostgreSQL, a value is written as
//!   the type the server inferred for its parameter (an integer as `INT2`,
//!   `INT4`, `INT8`, a float or a `BOOL`; text as `TEXT`/`VARCHAR`/`NAME`;
//!   a blob as `BYTEA`), so `?1` against a `BIGINT`, `BYTEA` or `TEXT`
//!   column just works. A column read from PostgreSQL becomes a `Value` by
//!   its type (`BOOL` is an integer 0/1, as in SQLite; `NUMERIC`, which
//!   `SUM(bigint)` gives, an integer when it has no fraction).
//! - Rows are read eagerly: a query returns all its rows before the caller
//!   maps them.
//! - The `postgres` client is synchronous and panics when called on a tokio
//!   runtime thread (it blocks on a runtime of its own). `Db`'s methods are
//!   also called directly from async code, so when a runtime is current each
//!   PostgreSQL call runs under `block_in_place` (multi-thread runtime) or
//!   on a scoped OS thread the caller waits for ([`off_runtime`]).
//! - A statement failing inside a transaction aborts it on PostgreSQL, whose
//!   `COMMIT` then rolls back without an error; [`Transaction::commit`]
//!   returns an error there instead.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

pub use rusqlite::TransactionBehavior;

/// A value as SQLite stores it; what parameters and columns are made of.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer (also booleans, as 0 and 1).
    Integer(i64),
    /// A float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Integer(n)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(n) => ValueRef::Integer(*n),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// The kind of a [`Value`], for conversion errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `NULL`.
    Null,
    /// Integer.
    Integer,
    /// Float.
    Real,
    /// Text.
    Text,
    /// Bytes.
    Blob,
}

impl Value {
    fn kind(&self) -> Type {
        match self {
            Value::Null => Type::Null,
            Value::Integer(_) => Type::Integer,
            Value::Real(_) => Type::Real,
            Value::Text(_) => Type::Text,
            Value::Blob(_) => Type::Blob,
        }
    }
}

/// `sql::types::Value` and `sql::types::Type`, where rusqlite has them.
pub mod types {
    pub use super::{Type, Value};
}

/// An error from either backend, or from converting a value.
#[derive(Debug)]
pub enum Error {
    /// From SQLite.
    Sqlite(rusqlite::Error),
    /// From PostgreSQL (its message made to read like SQLite's where code
    /// matches on it: unique violations).
    Postgres(String),
    /// `query_row` found no row.
    QueryReturnedNoRows,
    /// A column's value could not become the requested type.
    FromSqlConversionFailure(
        usize,
        Type,
        Box<dyn std::error::Error + Send + Sync + 'static>,
    ),
    /// A column holds a kind of value the requested type cannot take.
    InvalidColumnType(usize, Type),
    /// No such column.
    InvalidColumnIndex(usize),
    /// A parameter that cannot be stored (an unsigned integer beyond `i64`).
    ToSqlConversionFailure(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sqlite(e) => write!(f, "{e}"),
            Error::Postgres(m) => write!(f, "{m}"),
            Error::QueryReturnedNoRows => write!(f, "Query returned no rows"),
            Error::FromSqlConversionFailure(i, t, e) => {
                write!(f, "conversion error in column {i} ({t:?}): {e}")
            }
            Error::InvalidColumnType(i, t) => write!(f, "invalid column type {t:?} at index {i}"),
            Error::InvalidColumnIndex(i) => write!(f, "invalid column index {i}"),
            Error::ToSqlConversionFailure(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::QueryReturnedNoRows,
            e => Error::Sqlite(e),
        }
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Error {
        let Some(db) = e.as_db_error() else {
            return Error::Postgres(format!("PostgreSQL: {e}"));
        };
        if *db.code() == postgres::error::SqlState::UNIQUE_VIOLATION {
            // SQLite's wording, with the columns from the detail
            // ("Key (a, b)=(…) already exists.") but never the values.
            let columns = db
                .detail()
                .and_then(|d| d.strip_prefix("Key ("))
                .and_then(|d| d.split_once(")="))
                .map(|(cols, _)| cols.to_owned())
                .unwrap_or_default();
            let table = db.table().unwrap_or("");
            let columns = columns
                .split(", ")
                .map(|c| format!("{table}.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            return Error::Postgres(format!("UNIQUE constraint failed: {columns}"));
        }
        Error::Postgres(db.message().to_owned())
    }
}

/// A result of the facade.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Rust value that can be bound as a parameter.
pub trait ToSql {
    /// The value to bind.
    fn to_value(&self) -> Result<Value>;
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_value(&self) -> Result<Value> {
        (**self).to_value()
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_value(&self) -> Result<Value> {
        match self {
            Some(v) => v.to_value(),
            None => Ok(Value::Null),
        }
    }
}

macro_rules! to_sql_integer {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_value(&self) -> Result<Value> {
                i64::try_from(*self).map(Value::Integer).map_err(|_| {
                    Error::ToSqlConversionFailure(format!("integer {self} is out of range"))
                })
            }
        }
    )*};
}
to_sql_integer!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl ToSql for bool {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Integer(i64::from(*self)))
    }
}

impl ToSql for f64 {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Real(*self))
    }
}

impl ToSql for f32 {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Real(f64::from(*self)))
    }
}

impl ToSql for str {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Text(self.to_owned()))
    }
}

impl ToSql for String {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Text(self.clone()))
    }
}

impl ToSql for [u8] {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Blob(self.to_vec()))
    }
}

impl ToSql for Vec<u8> {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Blob(self.clone()))
    }
}

impl<const N: usize> ToSql for [u8; N] {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Blob(self.to_vec()))
    }
}

impl ToSql for Value {
    fn to_value(&self) -> Result<Value> {
        Ok(self.clone())
    }
}

/// The parameters of one statement.
pub trait Params {
    /// The values, in order (`?1` first).
    fn values(self) -> Result<Vec<Value>>;
}

impl Params for [&dyn ToSql; 0] {
    fn values(self) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

macro_rules! params_array {
    ($($n:literal),*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn values(self) -> Result<Vec<Value>> {
                self.iter().map(ToSql::to_value).collect()
            }
        }
        impl<T: ToSql> Params for &[T; $n] {
            fn values(self) -> Result<Vec<Value>> {
                self.iter().map(ToSql::to_value).collect()
            }
        }
    )*};
}
params_array!(
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
    27, 28, 29, 30, 31, 32
);

impl Params for &[&dyn ToSql] {
    fn values(self) -> Result<Vec<Value>> {
        self.iter().map(ToSql::to_value).collect()
    }
}

impl Params for &Vec<&dyn ToSql> {
    fn values(self) -> Result<Vec<Value>> {
        self.iter().map(ToSql::to_value).collect()
    }
}

/// Parameters from an iterator (see [`params_from_iter`]).
pub struct ParamsFromIter(Result<Vec<Value>>);

impl Params for ParamsFromIter {
    fn values(self) -> Result<Vec<Value>> {
        self.0
    }
}

/// Binds every item of `iter`, in order.
pub fn params_from_iter<I>(iter: I) -> ParamsFromIter
where
    I: IntoIterator,
    I::Item: ToSql,
{
    ParamsFromIter(iter.into_iter().map(|v| v.to_value()).collect())
}

/// `params![a, b, …]`: the parameters `?1`, `?2`, … of a statement.
macro_rules! params {
    () => {
        [] as [&dyn $crate::db::sql::ToSql; 0]
    };
    ($($p:expr),+ $(,)?) => {
        [$(&$p as &dyn $crate::db::sql::ToSql),+]
    };
}
pub(crate) use params;

/// What a column can be read as.
pub trait FromSql: Sized {
    /// Converts the value of column `i`.
    fn from_value(i: usize, v: &Value) -> Result<Self>;
}

fn out_of_range(i: usize, v: &Value) -> Error {
    Error::FromSqlConversionFailure(i, v.kind(), "integer out of range".into())
}

macro_rules! from_sql_integer {
    ($($t:ty),*) => {$(
        impl FromSql for $t {
            fn from_value(i: usize, v: &Value) -> Result<Self> {
                match v {
                    Value::Integer(n) => <$t>::try_from(*n).map_err(|_| out_of_range(i, v)),
                    v => Err(Error::InvalidColumnType(i, v.kind())),
                }
            }
        }
    )*};
}
from_sql_integer!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl FromSql for bool {
    fn from_value(i: usize, v: &Value) -> Result<Self> {
        match v {
            Value::Integer(n) => Ok(*n != 0),
            v => Err(Error::InvalidColumnType(i, v.kind())),
        }
    }
}

impl FromSql for f64 {
    fn from_value(i: usize, v: &Value) -> Result<Self> {
        match v {
            Value::Integer(n) => Ok(*n as f64),
            Value::Real(f) => Ok(*f),
            v => Err(Error::InvalidColumnType(i, v.kind())),
        }
    }
}

impl FromSql for String {
    fn from_value(i: usize, v: &Value) -> Result<Self> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            v => Err(Error::InvalidColumnType(i, v.kind())),
        }
    }
}

impl FromSql for Vec<u8> {
    fn from_value(i: usize, v: &Value) -> Result<Self> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            // SQLite hands text out as bytes too.
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            v => Err(Error::InvalidColumnType(i, v.kind())),
        }
    }
}

impl<const N: usize> FromSql for [u8; N] {
    fn from_value(i: usize, v: &Value) -> Result<Self> {
        match v {
            Value::Blob(b) => <[u8; N]>::try_from(b.as_slice()).map_err(|_| {
                Error::FromSqlConversionFailure(
                    i,
                    Type::Blob,
                    format!("{} bytes where {N} were expected", b.len()).into(),
                )
            }),
            v => Err(Error::InvalidColumnType(i, v.kind())),
        }
    }
}

impl FromSql for Value {
    fn from_value(_: usize, v: &Value) -> Result<Self> {
        Ok(v.clone())
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_value(i: usize, v: &Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(i, v).map(Some),
        }
    }
}

/// A column index (by position only).
pub trait RowIndex {
    /// The position.
    fn index(&self) -> usize;
}

impl RowIndex for usize {
    fn index(&self) -> usize {
        *self
    }
}

/// One row of a result.
pub struct Row<'a> {
    values: &'a [Value],
}

impl Row<'_> {
    /// Column `i` as `T`.
    pub fn get<I: RowIndex, T: FromSql>(&self, i: I) -> Result<T> {
        let i = i.index();
        let v = self.values.get(i).ok_or(Error::InvalidColumnIndex(i))?;
        T::from_value(i, v)
    }
}

/// The rows of a query, read one by one.
pub struct Rows {
    rows: std::vec::IntoIter<Vec<Value>>,
    current: Vec<Value>,
}

impl Rows {
    /// The next row, or `None` after the last.
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match self.rows.next() {
            Some(r) => {
                self.current = r;
                Ok(Some(Row {
                    values: &self.current,
                }))
            }
            None => Ok(None),
        }
    }
}

/// `.optional()` on a `query_row`: no row is `None`.
pub trait OptionalExtension<T> {
    /// `Ok(None)` where the query returned no row.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A connection to either backend.
pub struct Connection {
    inner: Inner,
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Pg>),
}

struct Pg {
    /// `None` only while dropping.
    client: RefCell<Option<postgres::Client>>,
    /// Prepared statements by their SQL text as written (with `?N`).
    statements: RefCell<HashMap<String, postgres::Statement>>,
    /// Opens a new connection when the server closed this one (a database
    /// restart); `None`: never reconnects.
    reconnect: Option<Reconnect>,
    /// Between `BEGIN` and `COMMIT`/`ROLLBACK`: a closed connection is not
    /// replaced there (the statements after it would run outside the
    /// transaction); the transaction fails and the next one reconnects.
    in_transaction: std::cell::Cell<bool>,
    /// A statement of the open transaction failed: PostgreSQL has aborted
    /// it, and its `COMMIT` would roll back while reporting success.
    aborted: std::cell::Cell<bool>,
}

/// How a PostgreSQL connection is opened again ([`Connection::postgres_reconnecting`]).
pub type Reconnect =
    Box<dyn Fn() -> std::result::Result<postgres::Client, postgres::Error> + Send + Sync>;

impl Pg {
    fn client(&self) -> std::cell::RefMut<'_, postgres::Client> {
        self.revive();
        std::cell::RefMut::map(self.client.borrow_mut(), |c| {
            c.as_mut()
                .expect("the PostgreSQL client is open until dropped")
        })
    }
}

impl Pg {
    /// Outside a transaction, replaces a connection the server closed by a
    /// new one (its prepared statements are gone with it); a failed attempt
    /// leaves the closed one, whose statements fail, and is tried again at
    /// the next statement.
    fn revive(&self) {
        let Some(reconnect) = &self.reconnect else {
            return;
        };
        let closed = self.client.borrow().as_ref().is_some_and(|c| c.is_closed());
        if !closed || self.in_transaction.get() {
            return;
        }
        if let Ok(new) = off_runtime(reconnect) {
            let old = self.client.replace(Some(new));
            self.statements.borrow_mut().clear();
            off_runtime(move || drop(old));
            tracing::info!("PostgreSQL connection opened again");
        }
    }
}

impl Drop for Pg {
    /// Closing the client blocks (it runs a runtime of its own), so a
    /// connection dropped in async code closes on a thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Runs `f` where the synchronous `postgres` client may block: on this thread
/// outside a tokio runtime, on a scoped thread of its own inside one (the
/// client panics on a runtime thread).
///
/// On a multi-thread runtime it is `block_in_place`: on a worker thread the
/// worker's other tasks move to another thread, and on a `spawn_blocking`
/// thread (where `Store` calls `Db`) it just runs `f`, so the statement costs
/// no thread. A current-thread runtime (tests) cannot block in place: there
/// `f` runs on a scoped thread of its own (about 45 µs more per statement:
/// 243 µs against 196 µs for a `SELECT 1` on loopback, debug build).
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match tokio::runtime::Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }),
    }
}

/// Whether `b` can be part of an unquoted identifier (or keyword).
fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Rewrites `?N` (and bare `?`, numbered as SQLite does: one more than the
/// largest so far) to `$N`, leaving string literals (`'…'`, escape strings
/// `E'…\'…'`, dollar-quoted `$$…$$` and `$tag$…$tag$`), quoted identifiers
/// and comments alone. `??` (two parameters in SQLite, an escaped `?` to
/// some drivers) is refused in debug builds: write `?N ?M`.
pub fn to_postgres_params(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1usize;
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                // `E'…'`: a backslash escapes the next byte.
                let escapes = q == b'\''
                    && i > 0
                    && matches!(b[i - 1], b'E' | b'e')
                    && (i < 2 || !ident_byte(b[i - 2]));
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        // A doubled quote is an escaped one.
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            // `$tag$…$tag$` (`tag` empty or an identifier); `$` inside an
            // identifier (`a$1`) or `$N` is not one.
            b'$' if i == 0 || !ident_byte(b[i - 1]) => {
                let mut j = i + 1;
                if j < b.len() && !b[j].is_ascii_digit() {
                    while j < b.len() && ident_byte(b[j]) {
                        j += 1;
                    }
                }
                if j < b.len() && b[j] == b'$' {
                    let tag = &sql[i..=j];
                    i = match sql[j + 1..].find(tag) {
                        Some(k) => j + 1 + k + tag.len(),
                        None => b.len(),
                    };
                } else {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'?' => {
                debug_assert!(
                    b.get(i + 1) != Some(&b'?'),
                    "`??` in SQL (two parameters to SQLite, an escaped `?` to some \
                     PostgreSQL drivers): write numbered parameters `?N`"
                );
                out.push_str(&sql[copied..i]);
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if end == start {
                    out.push_str(&format!("${next}"));
                    next += 1;
                } else {
                    out.push('$');
                    out.push_str(&sql[start..end]);
                    next = next.max(sql[start..end].parse::<usize>().unwrap_or(0) + 1);
                }
                i = end;
                copied = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    out
}

impl Pg {
    fn statement(&self, client: &mut postgres::Client, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let text = to_postgres_params(sql);
        let s = off_runtime(|| client.prepare(&text))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn query(&self, sql: &str, values: &[Value]) -> Result<Vec<Vec<Value>>> {
        let mut client = self.client();
        let st = self.statement(&mut client, sql)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let client = &mut *client;
        let rows = off_runtime(|| client.query(&st, &refs))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.try_get::<_, Value>(i).map_err(|e| {
                            Error::FromSqlConversionFailure(i, Type::Null, e.to_string().into())
                        })
                    })
                    .collect()
            })
            .collect()
    }

    fn execute(&self, sql: &str, values: &[Value]) -> Result<usize> {
        let mut client = self.client();
        let st = self.statement(&mut client, sql)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let client = &mut *client;
        Ok(off_runtime(|| client.execute(&st, &refs))? as usize)
    }

    /// Notes a failed statement: inside a transaction, PostgreSQL has
    /// aborted the transaction.
    fn noted<T>(&self, r: Result<T>) -> Result<T> {
        if r.is_err() && self.in_transaction.get() {
            self.aborted.set(true);
        }
        r
    }

    fn batch(&self, sql: &str) -> Result<()> {
        if sql == "COMMIT" && self.in_transaction.get() && self.aborted.get() {
            // The server would answer `ROLLBACK` to the `COMMIT`; say so.
            let rolled_back = {
                let mut client = self.client();
                let client = &mut *client;
                off_runtime(|| client.batch_execute("ROLLBACK"))
            };
            self.in_transaction.set(false);
            self.aborted.set(false);
            rolled_back?;
            return Err(Error::Postgres(
                "the transaction was rolled back: a statement in it failed".into(),
            ));
        }
        let r = {
            let mut client = self.client();
            let client = &mut *client;
            off_runtime(|| client.batch_execute(sql))
        };
        match sql {
            "BEGIN" => {
                self.in_transaction.set(r.is_ok());
                self.aborted.set(false);
            }
            "COMMIT" | "ROLLBACK" => {
                self.in_transaction.set(false);
                self.aborted.set(false);
            }
            _ => return self.noted(r.map_err(Error::from)),
        }
        Ok(r?)
    }
}

fn sqlite_rows(stmt: &mut rusqlite::Statement<'_>, values: &[Value]) -> Result<Vec<Vec<Value>>> {
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) => Value::Integer(n),
                rusqlite::types::ValueRef::Real(f) => Value::Real(f),
                rusqlite::types::ValueRef::Text(t) => Value::Text(
                    String::from_utf8(t.to_vec())
                        .map_err(|e| Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))?,
                ),
                rusqlite::types::ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(row);
    }
    Ok(out)
}

impl Connection {
    /// A SQLite connection.
    pub fn sqlite(c: rusqlite::Connection) -> Connection {
        Connection {
            inner: Inner::Sqlite(c),
        }
    }

    /// A PostgreSQL connection.
    pub fn postgres(c: postgres::Client) -> Connection {
        Connection {
            inner: Inner::Postgres(Box::new(Pg {
                client: RefCell::new(Some(c)),
                statements: RefCell::new(HashMap::new()),
                reconnect: None,
                in_transaction: std::cell::Cell::new(false),
                aborted: std::cell::Cell::new(false),
            })),
        }
    }

    /// A PostgreSQL connection that `reconnect`s, outside a transaction,
    /// once the server has closed it (a database restart).
    pub fn postgres_reconnecting(c: postgres::Client, reconnect: Reconnect) -> Connection {
        let mut conn = Connection::postgres(c);
        if let Inner::Postgres(pg) = &mut conn.inner {
            pg.reconnect = Some(reconnect);
        }
        conn
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.inner, Inner::Postgres(_))
    }

    fn rows(&self, sql: &str, values: &[Value]) -> Result<Vec<Vec<Value>>> {
        match &self.inner {
            Inner::Sqlite(c) => sqlite_rows(&mut *c.prepare_cached(sql)?, values),
            Inner::Postgres(pg) => pg.noted(pg.query(sql, values)),
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        let values = params.values()?;
        match &self.inner {
            Inner::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?),
            Inner::Postgres(pg) => pg.noted(pg.execute(sql, &values)),
        }
    }

    /// Runs statements without parameters, separated by `;`.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(pg) => pg.batch(sql),
        }
    }

    /// The first row, mapped by `f`; `QueryReturnedNoRows` without one.
    pub fn query_row<T, P: Params, F: FnOnce(&Row<'_>) -> Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> Result<T> {
        let values = params.values()?;
        let rows = self.rows(sql, &values)?;
        match rows.first() {
            Some(r) => f(&Row { values: r }),
            None => Err(Error::QueryReturnedNoRows),
        }
    }

    /// A statement to run (possibly many times).
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_owned(),
        })
    }

    /// As [`Connection::prepare`]; both backends cache statements by text.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare(sql)
    }

    /// Begins a deferred transaction.
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.transaction_with_behavior(TransactionBehavior::Deferred)
    }

    /// Begins a transaction. `Immediate` takes SQLite's write lock at once;
    /// PostgreSQL has row locks and, where a method needs one writer at a
    /// time, an advisory lock ([`Connection::lock`]).
    pub fn transaction_with_behavior(
        &mut self,
        behavior: TransactionBehavior,
    ) -> Result<Transaction<'_>> {
        let begin = match (&self.inner, behavior) {
            (Inner::Postgres(_), _) => "BEGIN",
            (_, TransactionBehavior::Immediate) => "BEGIN IMMEDIATE",
            (_, TransactionBehavior::Exclusive) => "BEGIN EXCLUSIVE",
            _ => "BEGIN DEFERRED",
        };
        self.execute_batch(begin)?;
        Ok(Transaction {
            conn: self,
            open: true,
        })
    }

    /// Within a transaction, serialises it with every other transaction
    /// taking the same `key` until it ends: a transaction-level advisory
    /// lock on PostgreSQL; nothing on SQLite, whose writers are already one
    /// at a time (the callers begin `IMMEDIATE`).
    pub fn lock(&self, key: i64) -> Result<()> {
        if self.is_postgres() {
            self.query_row("SELECT pg_advisory_xact_lock(?1)", [key], |_| Ok(()))?;
        }
        Ok(())
    }
}

/// An open transaction: rolled back when dropped without `commit`.
pub struct Transaction<'c> {
    conn: &'c Connection,
    open: bool,
}

impl Transaction<'_> {
    /// Commits.
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A statement of a connection.
pub struct Statement<'c> {
    conn: &'c Connection,
    sql: String,
}

impl Statement<'_> {
    /// Runs it; the number of rows changed.
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        self.conn.execute(&self.sql, params)
    }

    /// The first row, mapped.
    pub fn query_row<T, P: Params, F: FnOnce(&Row<'_>) -> Result<T>>(
        &mut self,
        params: P,
        f: F,
    ) -> Result<T> {
        self.conn.query_row(&self.sql, params, f)
    }

    /// Every row, mapped by `f`.
    pub fn query_map<T, P: Params, F: FnMut(&Row<'_>) -> Result<T>>(
        &mut self,
        params: P,
        mut f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let values = params.values()?;
        let rows = self.conn.rows(&self.sql, &values)?;
        Ok(rows
            .iter()
            .map(|r| f(&Row { values: r }))
            .collect::<Vec<_>>()
            .into_iter())
    }

    /// The rows, to step through.
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows> {
        let values = params.values()?;
        Ok(Rows {
            rows: self.conn.rows(&self.sql, &values)?.into_iter(),
            current: Vec::new(),
        })
    }

    /// Whether it returns a row.
    pub fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        let values = params.values()?;
        Ok(!self.conn.rows(&self.sql, &values)?.is_empty())
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, Type as T};
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(n), &T::INT8) => n.to_sql(ty, out),
            (Value::Integer(n), &T::INT4) => i32::try_from(*n)?.to_sql(ty, out),
            (Value::Integer(n), &T::INT2) => i16::try_from(*n)?.to_sql(ty, out),
            (Value::Integer(n), &T::FLOAT8) => (*n as f64).to_sql(ty, out),
            (Value::Integer(n), &T::FLOAT4) => (*n as f32).to_sql(ty, out),
            (Value::Integer(n), &T::BOOL) => (*n != 0).to_sql(ty, out),
            (Value::Real(f), &T::FLOAT8) => f.to_sql(ty, out),
            (Value::Real(f), &T::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Text(s), &T::TEXT | &T::VARCHAR | &T::NAME | &T::BPCHAR | &T::UNKNOWN) => {
                s.as_str().to_sql(&T::TEXT, out)
            }
            // A parameter whose type only its use fixes (`SELECT ?1`) is
            // text to PostgreSQL; numbers are written as SQLite would show them.
            (Value::Integer(n), &T::TEXT | &T::VARCHAR) => n.to_string().as_str().to_sql(ty, out),
            (Value::Real(f), &T::TEXT | &T::VARCHAR) => f.to_string().as_str().to_sql(ty, out),
            (Value::Blob(b), &T::BYTEA) => b.as_slice().to_sql(ty, out),
            (v, ty) => {
                Err(format!("a {:?} value cannot be bound to a {ty} parameter", v.kind()).into())
            }
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// PostgreSQL's binary `NUMERIC`: an integer when it has no fraction, else a
/// float.
fn numeric(raw: &[u8]) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
    if raw.len() < 8 {
        return Err("short NUMERIC".into());
    }
    let word = |i: usize| i16::from_be_bytes([raw[i], raw[i + 1]]);
    let ndigits = word(0) as usize;
    let weight = i32::from(word(2));
    let sign = u16::from_be_bytes([raw[4], raw[5]]);
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    if raw.len() < 8 + 2 * ndigits {
        return Err("short NUMERIC".into());
    }
    let digits: Vec<i64> = (0..ndigits).map(|k| i64::from(word(8 + 2 * k))).collect();
    let integral = digits
        .iter()
        .enumerate()
        .all(|(k, d)| *d == 0 || (k as i32) <= weight);
    let negative = sign == 0x4000;
    if integral {
        let mut n: i64 = 0;
        for k in 0..=weight.max(-1) {
            let d = digits.get(k as usize).copied().unwrap_or(0);
            n = n
                .checked_mul(10_000)
                .and_then(|n| n.checked_add(d))
                .ok_or("NUMERIC out of range")?;
        }
        return Ok(Value::Integer(if negative { -n } else { n }));
    }
    let mut f = 0f64;
    for (k, d) in digits.iter().enumerate() {
        f += *d as f64 * 10_000f64.powi(weight - k as i32);
    }
    Ok(Value::Real(if negative { -f } else { f }))
}

impl<'a> postgres::types::FromSql<'a> for Value {
    fn from_sql(
        ty: &postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{FromSql as F, Type as T};
        Ok(match *ty {
            T::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            T::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
            T::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
            T::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
            T::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
            T::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            T::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            T::NUMERIC => numeric(raw)?,
            T::TEXT | T::VARCHAR | T::NAME | T::BPCHAR | T::UNKNOWN => {
                Value::Text(<&str as F>::from_sql(ty, raw)?.to_owned())
            }
            T::BYTEA => Value::Blob(raw.to_vec()),
            T::VOID => Value::Null,
            _ => return Err(format!("a column of type {ty} cannot be read").into()),
        })
    }

    fn from_sql_null(
        _: &postgres::types::Type,
    ) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_parameters_outside_literals_and_comments() {
        assert_eq!(
            to_postgres_params("SELECT ?1, '?2', \"a?\" -- ?3\n, ?12 /* ? */ , ?"),
            "SELECT $1, '?2', \"a?\" -- ?3\n, $12 /* ? */ , $13"
        );
        assert_eq!(to_postgres_params("a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(
            to_postgres_params("x = 'it''s ?' AND y = ?2"),
            "x = 'it''s ?' AND y = $2"
        );
    }

    #[test]
    fn dollar_quotes_and_escape_strings_are_literals() {
        assert_eq!(
            to_postgres_params("SELECT $$ ?1 ' $$, ?2, $t$ a $$ ? $t$, ?"),
            "SELECT $$ ?1 ' $$, $2, $t$ a $$ ? $t$, $3"
        );
        assert_eq!(
            to_postgres_params("SELECT E'it\\'s ?', e'\\\\', ?1"),
            "SELECT E'it\\'s ?', e'\\\\', $1"
        );
        // Not an escape string: `name'…'` ends at the quote.
        assert_eq!(to_postgres_params("SELECT 'a\\', ?1"), "SELECT 'a\\', $1");
        // `$N` and `$` inside identifiers are not dollar quotes.
        assert_eq!(
            to_postgres_params("SELECT a$b, $1, ?2 FROM t$"),
            "SELECT a$b, $1, $2 FROM t$"
        );
        // A bare `?` after `?N` is one more than the largest so far.
        assert_eq!(to_postgres_params("?3, ?1, ?"), "$3, $1, $4");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "`??` in SQL")]
    fn a_double_question_mark_is_refused() {
        to_postgres_params("SELECT ?? FROM t");
    }

    /// A connection to the PostgreSQL test server, where one is given.
    fn postgres_for_tests() -> Option<Connection> {
        let url = std::env::var("VEIL_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())?;
        Some(Connection::postgres(
            postgres::Client::connect(&url, postgres::NoTls).unwrap(),
        ))
    }

    #[test]
    fn postgres_a_transaction_with_a_failed_statement_does_not_commit() {
        let Some(mut c) = postgres_for_tests() else {
            return;
        };
        c.execute_batch("CREATE TEMP TABLE t (id BIGINT PRIMARY KEY)")
            .unwrap();
        let tx = c.transaction().unwrap();
        tx.execute("INSERT INTO t (id) VALUES (?1)", [1]).unwrap();
        // The error ignored: PostgreSQL has aborted the transaction.
        assert!(tx.execute("INSERT INTO t (id) VALUES (?1)", [1]).is_err());
        let e = tx.commit().unwrap_err();
        assert!(e.to_string().contains("rolled back"), "{e}");
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        // The connection is usable again and commits.
        let tx = c.transaction().unwrap();
        tx.execute("INSERT INTO t (id) VALUES (?1)", [2]).unwrap();
        tx.commit().unwrap();
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        // A failed statement outside a transaction leaves the next one alone.
        assert!(c.execute("INSERT INTO t (id) VALUES (?1)", [2]).is_err());
        let tx = c.transaction().unwrap();
        tx.execute("INSERT INTO t (id) VALUES (?1)", [3]).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn off_runtime_spawns_no_thread_on_a_multi_thread_runtime() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let here = |_: ()| std::thread::current().id();
        // A blocking-pool thread, as where `Store` calls `Db`.
        let (outer, inner) = rt.block_on(async {
            tokio::task::spawn_blocking(move || {
                (std::thread::current().id(), off_runtime(|| here(())))
            })
            .await
            .unwrap()
        });
        assert_eq!(outer, inner);
        // A worker thread: in place too.
        let (outer, inner) = rt.block_on(async {
            tokio::spawn(async move { (std::thread::current().id(), off_runtime(|| here(()))) })
                .await
                .unwrap()
        });
        assert_eq!(outer, inner);
        // A current-thread runtime: a thread of its own.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (outer, inner) =
            rt.block_on(async { (std::thread::current().id(), off_runtime(|| here(()))) });
        assert_ne!(outer, inner);
    }

    /// The cost of one statement on a blocking-pool thread with and
    /// without a thread of its own (`--ignored --nocapture`).
    #[test]
    #[ignore = "a measurement"]
    fn postgres_measure_a_statement_with_and_without_a_thread() {
        let Ok(url) = std::env::var("VEIL_TEST_POSTGRES") else {
            return;
        };
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let n = 5_000u32;
        let mut time = |thread: bool| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                let mut run = || client.query_one("SELECT 1", &[]).unwrap();
                if thread {
                    std::thread::scope(|s| s.spawn(run).join().unwrap());
                } else {
                    run();
                }
            }
            start.elapsed() / n
        };
        let (with, without) = (time(true), time(false));
        println!("one statement: {with:?} with a thread, {without:?} without");
    }

    #[test]
    fn numeric_decodes_integers_and_fractions() {
        // 123456789: digits 1, 2345, 6789; weight 2.
        let raw = [0, 3, 0, 2, 0, 0, 0, 0, 0, 1, 0x09, 0x29, 0x1a, 0x85];
        assert_eq!(numeric(&raw).unwrap(), Value::Integer(123_456_789));
        // -20000: digit 2, weight 1.
        let raw = [0, 1, 0, 1, 0x40, 0, 0, 0, 0, 2];
        assert_eq!(numeric(&raw).unwrap(), Value::Integer(-20_000));
        // 1.5: digits 1, 5000; weight 0.
        let raw = [0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x88];
        assert_eq!(numeric(&raw).unwrap(), Value::Real(1.5));
        // 0: no digits.
        let raw = [0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(numeric(&raw).unwrap(), Value::Integer(0));
    }

    #[test]
    fn sqlite_round_trip_and_optional() {
        let mut c = Connection::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB, s TEXT)")
            .unwrap();
        let tx = c.transaction().unwrap();
        let id: i64 = tx
            .query_row(
                "INSERT INTO t (b, s) VALUES (?1, ?2) RETURNING id",
                params![vec![1u8, 2], "x"],
                |r| r.get(0),
            )
            .unwrap();
        tx.commit().unwrap();
        let (b, s): (Vec<u8>, Option<String>) = c
            .query_row("SELECT b, s FROM t WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((b, s.as_deref()), (vec![1, 2], Some("x")));
        let none: Option<i64> = c
            .query_row("SELECT id FROM t WHERE id = ?1", [id + 1], |r| r.get(0))
            .optional()
            .unwrap();
        assert_eq!(none, None);
        {
            let tx = c.transaction().unwrap();
            tx.execute("DELETE FROM t", []).unwrap();
        }
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "a dropped transaction rolls back");
    }
}

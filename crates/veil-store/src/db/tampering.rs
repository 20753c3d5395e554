//! Statements run behind the repository layer's back, for tests only: a row
//! deleted or a value damaged the way a fault or an intruder would, on
//! either backend (the SQL is the test's, so it must be portable too).
//! Nothing in the product calls these.

use super::sql::{params_from_iter, Value};
use super::{sql_err, Db};
use crate::Error;

impl Db {
    /// Runs one statement as it is written; the number of rows it changed.
    #[doc(hidden)]
    pub fn tamper_for_tests(&self, sql: &str, params: &[Value]) -> Result<usize, Error> {
        let c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        c.execute(sql, params_from_iter(params.iter()))
            .map_err(sql_err)
    }

    /// Every row of one query as it is written, as raw values.
    #[doc(hidden)]
    pub fn raw_query_for_tests(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<Vec<Value>>, Error> {
        let c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut st = c.prepare(sql).map_err(sql_err)?;
        let mut rows = st.query(params_from_iter(params.iter())).map_err(sql_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sql_err)? {
            let mut values = Vec::new();
            let mut i = 0;
            while let Ok(v) = row.get::<usize, Value>(i) {
                values.push(v);
                i += 1;
            }
            out.push(values);
        }
        Ok(out)
    }
}

//! Reading the stored access record for people: current names of pseudonyms
//! and the key-indicator report over a period, paged out of the store.
//!
//! The computation itself is [`crate::report`] (pure); this module only feeds
//! it from a [`Db`]. Appending and verifying live in the crate root.

use std::collections::HashMap;

use veil_base::Time90k;
use veil_store::Db;

use crate::report::{Report, ReportBuilder, Shifts};

/// Entries read from the store per page.
const PAGE: i64 = 10_000;

/// Current names by pseudonym; erased accounts (no name) are absent.
pub fn current_names(db: &Db) -> Result<HashMap<String, String>, veil_store::Error> {
    Ok(db
        .user_names()?
        .into_iter()
        .filter_map(|u| Some((u.pseudonym, u.name?)))
        .collect())
}

/// The key indicators of the entries with `from <= time < to`, read in pages
/// of 10,000 entries, so memory does not grow with the period.
pub fn stored_report(
    db: &Db,
    from: Time90k,
    to: Time90k,
    shifts: Shifts,
) -> Result<Report, veil_store::Error> {
    let mut builder = ReportBuilder::new(from, to, current_names(db)?, shifts);
    let mut after = 0;
    loop {
        let rows = db.audit_in_period(from, to, after, PAGE)?;
        for r in &rows {
            builder.add(r);
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => after = last.seq,
            _ => break,
        }
    }
    Ok(builder.finish())
}

//! The data-protection officer's desk (D5–D7, D9, D10): the documents of
//! processing written from the installation's own configuration, and the
//! compliance lint that checks it against the guidance.
//!
//! Everything here is pure: the server gathers a [`model::Snapshot`] (and
//! the accounts, for the lint) and these modules turn it into documents
//! and findings. No I/O, no clock: times come in.

#![warn(missing_docs)]

pub mod country;
pub mod diff;
pub mod documents;
#[cfg(test)]
pub(crate) mod fixture;
pub mod lint;
pub mod model;

//! Every limit the portal keeps, in one place: what each counts, over what window, how many,
//! and what the person who reaches it is told. Texts' limits (`texts`), following DESIGN's table
//! of texts, and those on signing in and registering (`sign_ins`). The `Limit` type, and the
//! counting (in the same transaction as the write each guards), are the store's.

pub mod sign_ins;
pub mod texts;

pub use crate::store::{wait_text, Limit, LimitKind};

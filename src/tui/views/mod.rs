//! One file per tab, plus the overlays that belong to no single tab. Each `draw` is
//! a pure function of `&App`.

pub mod calls;
pub mod form;
pub mod groups;
pub mod help;
pub mod hive;
pub mod log;
pub mod overview;
pub mod pools;

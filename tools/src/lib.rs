//! The `tickvault` command line as a library: its verbs (`cmd`), the SQL bridge, and the file
//! formats of import and export (CSV, JSON, JSON Lines, Parquet, Excel). The binary is a thin
//! `main` over it; the fuzz targets (`fuzz/`) drive its importers through [`fuzz`].

pub mod bridge;
pub mod cli;
pub mod cmd;
pub mod fuzz;
pub mod pq;
pub mod soak;
pub mod table;
pub mod time;
pub mod xlsx;

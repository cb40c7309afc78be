//! Stores by URL, all behind the `Database` trait: tickvault itself and vn.py's SQL databases.
//!
//! URLs: a plain path or `tickvault:PATH`; `sqlite:PATH` (vn.py's `database.db`); `vnpy[:DIR]`,
//! which reads vn.py's `vt_setting.json` (in `DIR`, else `./.vntrader` if it exists, else
//! `~/.vntrader`) to find the database vn.py uses. PostgreSQL and MySQL URLs are recognised and
//! refused with a clear message until their backends land.

pub mod sqlite;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use tickvault::{Database, Engine};

/// An open store of any kind.
#[derive(Debug)]
pub enum Store {
    /// A tickvault store.
    Tickvault(Engine),
    /// vn.py's SQLite database.
    Sqlite(sqlite::VnpySqlite),
}

impl Store {
    /// The store as a `Database`.
    pub fn db(&self) -> &dyn Database {
        match self {
            Store::Tickvault(e) => e,
            Store::Sqlite(s) => s,
        }
    }
}

/// The vn.py settings folder: `dir` if given, else `./.vntrader` if it exists, else `~/.vntrader`.
fn vntrader_dir(dir: Option<&str>) -> Result<PathBuf> {
    if let Some(d) = dir.filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let local = Path::new(".vntrader");
    if local.is_dir() {
        return Ok(local.to_path_buf());
    }
    let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set; give vnpy:DIR"))?;
    Ok(Path::new(&home).join(".vntrader"))
}

/// Opens the store a URL names. `sql_tz` is the zone of naive SQL datetimes (`None`: vn.py's
/// `database.timezone` setting, else the system zone). `write` allows creating the store.
pub fn open(url: &str, sql_tz: Option<&str>, write: bool) -> Result<Store> {
    let (scheme, rest) = match url.split_once(':') {
        Some((s, r))
            if matches!(
                s,
                "tickvault" | "sqlite" | "vnpy" | "postgresql" | "postgres" | "mysql"
            ) =>
        {
            (s, r)
        }
        _ if url == "vnpy" => ("vnpy", ""),
        _ => ("tickvault", url),
    };
    match scheme {
        "tickvault" => {
            let engine = if write {
                Engine::open(rest)
            } else {
                Engine::open_read_only(rest)
            };
            Ok(Store::Tickvault(engine.with_context(|| {
                format!("cannot open the store {rest}")
            })?))
        }
        "sqlite" => {
            let path = Path::new(rest);
            if !write && !path.exists() {
                bail!("no SQLite database at {rest}");
            }
            let tz = crate::time::zone(sql_tz)?;
            Ok(Store::Sqlite(sqlite::VnpySqlite::open(path, tz)?))
        }
        "vnpy" => {
            let dir = vntrader_dir(Some(rest))?;
            let settings_path = dir.join("vt_setting.json");
            let settings: serde_json::Value = match std::fs::read_to_string(&settings_path) {
                Ok(text) => serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", settings_path.display()))?,
                Err(_) => serde_json::json!({}),
            };
            let get = |k: &str| settings.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let name = get("database.name").unwrap_or_else(|| "sqlite".into());
            if name != "sqlite" {
                bail!(
                    "vn.py at {} uses database.name = {name:?}; only sqlite is supported so far",
                    dir.display()
                );
            }
            let file = dir.join(get("database.database").unwrap_or_else(|| "database.db".into()));
            let tz = get("database.timezone");
            let zone = crate::time::zone(sql_tz.or(tz.as_deref()))?;
            if !write && !file.exists() {
                bail!("vn.py's database {} does not exist", file.display());
            }
            Ok(Store::Sqlite(sqlite::VnpySqlite::open(&file, zone)?))
        }
        other => bail!(
            "{other} URLs are not supported yet (tickvault paths, sqlite:PATH and vnpy[:DIR] are)"
        ),
    }
}

/// A URL fit for messages: any password is replaced by `***`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgresql://me:s3cret@db:5432/vnpy"),
            "postgresql://me:***@db:5432/vnpy"
        );
        assert_eq!(
            redact("mysql://root@localhost/test"),
            "mysql://root@localhost/test"
        );
        assert_eq!(redact("sqlite:/tmp/a.db"), "sqlite:/tmp/a.db");
    }
}

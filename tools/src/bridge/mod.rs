//! Stores by URL, all behind the `Database` trait: tickvault itself and vn.py's SQL databases.
//!
//! URLs: a plain path or `tickvault:PATH`; `sqlite:PATH` (vn.py's `database.db`); `vnpy[:DIR]`,
//! which reads vn.py's `vt_setting.json` (in `DIR`, else `./.vntrader` if it exists, else
//! `~/.vntrader`) to find the database vn.py uses; `postgresql://user[:password]@host[:port]/db`;
//! `mysql://user[:password]@host[:port]/db`. Passwords never appear in messages.

pub mod mysql;
pub mod postgres;
pub mod sql;
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
    Sqlite(sql::SqlStore<sqlite::VnpySqlite>),
    /// vn.py's PostgreSQL database.
    Postgres(sql::SqlStore<postgres::VnpyPostgres>),
    /// vn.py's MySQL or MariaDB database.
    Mysql(sql::SqlStore<mysql::VnpyMysql>),
}

impl Store {
    /// The store as a `Database`.
    pub fn db(&self) -> &dyn Database {
        match self {
            Store::Tickvault(e) => e,
            Store::Sqlite(s) => s,
            Store::Postgres(s) => s,
            Store::Mysql(s) => s,
        }
    }
}

impl Store {
    /// Runs `f` so that its writes to a SQL database commit together or not at all (one
    /// transaction). A tickvault store commits each save as it comes; a re-run of an idempotent
    /// copy completes what an interruption left.
    pub fn atomic<T>(&self, f: impl FnOnce(&dyn Database) -> Result<T>) -> Result<T> {
        match self {
            Store::Tickvault(e) => f(e),
            Store::Sqlite(s) => s.atomic(f),
            Store::Postgres(s) => s.atomic(f),
            Store::Mysql(s) => s.atomic(f),
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
            let clock = sql::Clock {
                tz: crate::time::zone(sql_tz)?,
            };
            Ok(Store::Sqlite(sql::SqlStore::new(sqlite::VnpySqlite::open(
                path, clock,
            )?)))
        }
        "postgresql" | "postgres" | "mysql" => {
            let clock = sql::Clock {
                tz: crate::time::zone(sql_tz)?,
            };
            server(url, clock)
        }
        "vnpy" => {
            let dir = vntrader_dir(Some(rest))?;
            let settings_path = dir.join("vt_setting.json");
            let settings: serde_json::Value = match std::fs::read_to_string(&settings_path) {
                Ok(text) => serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", settings_path.display()))?,
                Err(_) => serde_json::json!({}),
            };
            let get = |k: &str| match settings.get(k) {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let name = get("database.name").unwrap_or_else(|| "sqlite".into());
            let tz = get("database.timezone");
            let clock = sql::Clock {
                tz: crate::time::zone(sql_tz.or(tz.as_deref()))?,
            };
            let database = get("database.database").unwrap_or_else(|| "database.db".into());
            match name.as_str() {
                "sqlite" => {
                    let file = dir.join(database);
                    if !write && !file.exists() {
                        bail!("vn.py's database {} does not exist", file.display());
                    }
                    Ok(Store::Sqlite(sql::SqlStore::new(sqlite::VnpySqlite::open(
                        &file, clock,
                    )?)))
                }
                "postgresql" | "mysql" => {
                    let enc = |s: String| percent_encode(&s);
                    let user = get("database.user").map(enc).unwrap_or_default();
                    let password = get("database.password").filter(|p| !p.is_empty());
                    let host = get("database.host").unwrap_or_else(|| "localhost".into());
                    let port = get("database.port")
                        .unwrap_or_else(|| if name == "mysql" { "3306" } else { "5432" }.into());
                    let creds = match password {
                        Some(p) => format!("{user}:{}@", percent_encode(&p)),
                        None if user.is_empty() => String::new(),
                        None => format!("{user}@"),
                    };
                    let url = format!("{name}://{creds}{host}:{port}/{}", percent_encode(&database));
                    server(&url, clock)
                }
                "tickvault" => {
                    // vnpy_tickvault's store: vn.py's default file name becomes `tickvault`.
                    let name = if database == "database.db" {
                        "tickvault".to_string()
                    } else {
                        database
                    };
                    let path = dir.join(name);
                    let engine = if write {
                        Engine::open(&path)
                    } else {
                        Engine::open_read_only(&path)
                    };
                    Ok(Store::Tickvault(engine.with_context(|| {
                        format!("cannot open vn.py's tickvault store {}", path.display())
                    })?))
                }
                other => bail!(
                    "vn.py at {} uses database.name = {other:?}; tickvault reads sqlite, postgresql, mysql and tickvault",
                    dir.display()
                ),
            }
        }
        other => bail!("unknown store kind {other}"),
    }
}

/// Percent-encodes what a URL's user, password or path may not hold as is.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Connects to a PostgreSQL or MySQL URL; no message carries its password.
fn server(url: &str, clock: sql::Clock) -> Result<Store> {
    let place = redact(url);
    let scrub = |e: tickvault::Error| {
        let mut text = e.to_string();
        if let Some(p) = password(url).filter(|p| !p.is_empty()) {
            text = text.replace(&p, "***");
        }
        anyhow!(text)
    };
    if url.starts_with("mysql:") {
        Ok(Store::Mysql(sql::SqlStore::new(
            mysql::VnpyMysql::connect(url, &place, clock).map_err(scrub)?,
        )))
    } else {
        Ok(Store::Postgres(sql::SqlStore::new(
            postgres::VnpyPostgres::connect(url, &place, clock).map_err(scrub)?,
        )))
    }
}

/// The password of a `scheme://user:password@host` URL.
fn password(url: &str) -> Option<String> {
    let s = url.find("://")? + 3;
    let at = url.rfind('@')?;
    let creds = url.get(s..at)?;
    creds.split_once(':').map(|(_, p)| p.to_string())
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

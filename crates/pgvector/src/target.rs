//! Where the embeddings live: the server named by a URL (shown without its password) and a table
//! name checked to be a plain identifier before it is ever put into SQL text.

use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, Config, NoTls};

use crate::error::{PgVectorError, Result};

/// The table holding one row per export: its dimension, item count, metric and fingerprint.
pub const METADATA_TABLE: &str = "cascade_indexes";

/// The longest table name accepted: PostgreSQL truncates identifiers at 63 bytes, and the names
/// derived from the table (its staging copy and indexes) add up to 15 bytes.
pub const MAX_TABLE_NAME: usize = 48;

/// How long a connection attempt may take when the URL does not say (`connect_timeout=`).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed connection URL and its printable form.
#[derive(Clone)]
pub(crate) struct Server {
    config: Config,
    name: String,
}

impl Server {
    /// Parses `url` (`postgres://user[:password]@host[:port]/db[?params]` or the key=value form).
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let mut config: Config =
            url.parse()
                .map_err(|err: postgres::Error| PgVectorError::BadUrl {
                    url: redact_url(url),
                    reason: err.to_string(),
                })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let hosts = if hosts.is_empty() {
            "localhost".to_string()
        } else {
            hosts.join(",")
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres");
        let name = format!("postgres://{hosts}:{port}/{db}");
        Ok(Self { config, name })
    }

    /// The server as `postgres://host:port/db`, safe to print.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Opens a new connection (no TLS).
    pub(crate) fn connect(&self) -> Result<Client> {
        self.config
            .connect(NoTls)
            .map_err(|source| PgVectorError::Connect {
                server: self.name.clone(),
                source,
            })
    }
}

/// `url` with the password of a `scheme://user:password@host` URL replaced by `***`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // The key=value form: hide a password=... pair.
        return url
            .split_whitespace()
            .map(|pair| {
                if pair.starts_with("password=") {
                    "password=***"
                } else {
                    pair
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let masked = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{masked}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// Refuses a table name that is not a plain identifier (ASCII letters, digits and `_`, not
/// starting with a digit, at most [`MAX_TABLE_NAME`] bytes) or that names the metadata table.
/// Names are always double-quoted in SQL, so case is kept: `Items` and `items` are two tables.
pub fn validate_table_name(name: &str) -> Result<()> {
    let refuse = |reason: &str| {
        Err(PgVectorError::BadTableName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() {
        return refuse("is empty");
    }
    if name.len() > MAX_TABLE_NAME {
        return refuse(&format!("is longer than {MAX_TABLE_NAME} bytes"));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return refuse("starts with a digit");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return refuse("may hold only ASCII letters, digits and underscores");
    }
    if name.eq_ignore_ascii_case(METADATA_TABLE) {
        return refuse("is the metadata table's own name");
    }
    Ok(())
}

/// `name` double-quoted for SQL; only called on validated names, which hold no quote.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_printed_without_password() {
        let server = Server::parse("postgres://alice:s3cret@db.example:6543/items").unwrap();
        assert_eq!(server.name(), "postgres://db.example:6543/items");
        let server = Server::parse("postgres://alice@db.example").unwrap();
        assert_eq!(server.name(), "postgres://db.example:5432/alice");
        assert_eq!(
            redact_url("postgres://alice:s3cret@h:1/db?x=1"),
            "postgres://alice:***@h:1/db?x=1"
        );
        assert_eq!(redact_url("host=h password=s3cret"), "host=h password=***");
        let err = Server::parse("postgres://alice:s3cret@h:notaport/db")
            .err()
            .unwrap()
            .to_string();
        assert!(
            !err.contains("s3cret") && err.contains("alice:***@h"),
            "{err}"
        );
    }

    #[test]
    fn table_names_are_identifiers() {
        for good in ["items", "Items_v2", "_x", "a1"] {
            assert!(validate_table_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1items",
            "items; drop table x",
            "it\"ems",
            "ünï",
            "cascade_indexes",
            &"x".repeat(49),
        ] {
            let err = validate_table_name(bad).unwrap_err().to_string();
            assert!(err.starts_with("table name"), "{err}");
        }
    }
}

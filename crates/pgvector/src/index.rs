//! Searching an exported table as a [`TopKIndex`]: one `ORDER BY embedding <#> $1 LIMIT n` per
//! query, over a small pool of connections.

use std::sync::{Mutex, PoisonError};

use cascade_retrieve::{
    Exclusions, Fingerprint, Hit, Metric, RetrieveError, TopK, TopKIndex, plan_search,
};
use pgvector::Vector;
use postgres::{Client, Statement, Transaction};

use crate::error::{PgVectorError, Result};
use crate::target::{METADATA_TABLE, Server, quoted, validate_table_name};

/// The smallest `hnsw.ef_search` a search runs with (pgvector's default is 40): the candidate
/// list of the graph search, and at the same time the most rows an HNSW scan can return.
pub const DEFAULT_MIN_EF_SEARCH: usize = 100;

/// pgvector's upper bound for `hnsw.ef_search`. A query needing more rows than this (K plus its
/// excluded items) is answered by an exact scan instead.
pub const MAX_EF_SEARCH: usize = 1000;

/// Idle connections kept for reuse; more are opened under load and closed when returned.
const MAX_IDLE_CONNECTIONS: usize = 16;

/// A connection of the pool with the search statement prepared on it.
struct Conn {
    client: Client,
    search: Statement,
    check: Statement,
}

/// An exported table searched as a top-K index by inner product.
///
/// Each query fetches K plus the number of items it excludes, under an `hnsw.ef_search` of at
/// least that many (and at least the minimum, [`DEFAULT_MIN_EF_SEARCH`] unless changed), then
/// drops excluded items on the client. When K plus the exclusions exceed [`MAX_EF_SEARCH`], the
/// query disables index scans for itself and PostgreSQL ranks every row exactly (a full scan,
/// slower on large tables). The count of a query's exclusions is
/// [`Exclusions::excluded_at_most`], an upper bound: at worst a few rows more are fetched.
///
/// The dimension, item count and fingerprint are read from the metadata table at
/// [`open`](Self::open); a search that finds the table re-exported since then fails, so a model
/// is never served another model's items: open the index again after a re-export.
///
/// `search` takes `&self`: connections come from a pool behind a mutex, so concurrent callers
/// each use their own. The `postgres` client runs a tokio runtime of its own and blocks, so call
/// `search` from plain threads or `tokio::task::spawn_blocking`, never inside an async task;
/// dropping the index is safe anywhere (its connections are closed on a thread of their own).
pub struct PgVectorIndex {
    server: Server,
    table: String,
    dim: usize,
    len: usize,
    fingerprint: Fingerprint,
    min_ef_search: usize,
    pool: Mutex<Vec<Conn>>,
}

impl PgVectorIndex {
    /// Opens the export `table` of the database at `url`, reading its metadata; the connection
    /// used stays in the pool.
    pub fn open(url: &str, table: &str) -> Result<Self> {
        validate_table_name(table)?;
        let server = Server::parse(url)?;
        let mut client = server.connect()?;
        let fail = |action: &'static str| {
            let server = server.name().to_string();
            move |source| PgVectorError::Query {
                server,
                table: table.to_string(),
                action,
                source,
            }
        };
        let bad = |reason: String| PgVectorError::BadContent {
            server: server.name().to_string(),
            table: table.to_string(),
            reason,
        };
        let has_metadata = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&METADATA_TABLE])
            .and_then(|row| row.try_get::<_, bool>(0))
            .map_err(fail("look up the metadata table"))?;
        let row = if has_metadata {
            client
                .query_opt(
                    &format!(
                        "SELECT dim, items, metric, fingerprint FROM {METADATA_TABLE} WHERE name = $1"
                    ),
                    &[&table],
                )
                .map_err(fail("read the metadata"))?
        } else {
            None
        };
        let Some(row) = row else {
            return Err(PgVectorError::UnknownTable {
                server: server.name().to_string(),
                table: table.to_string(),
                metadata: METADATA_TABLE,
            });
        };
        let dim: i32 = row.try_get(0).map_err(fail("read the metadata"))?;
        let items: i64 = row.try_get(1).map_err(fail("read the metadata"))?;
        let metric: String = row.try_get(2).map_err(fail("read the metadata"))?;
        let fingerprint: String = row.try_get(3).map_err(fail("read the metadata"))?;
        let dim = usize::try_from(dim)
            .ok()
            .filter(|&dim| dim > 0)
            .ok_or_else(|| bad(format!("metadata dimension {dim} is not positive")))?;
        let len = usize::try_from(items)
            .ok()
            .filter(|&items| items > 0 && items <= i32::MAX as usize)
            .ok_or_else(|| bad(format!("metadata item count {items} is out of range")))?;
        if metric != Metric::InnerProduct.name() {
            return Err(bad(format!(
                "metadata metric {metric:?}; only {} is supported",
                Metric::InnerProduct.name()
            )));
        }
        let fingerprint = Fingerprint::parse(&fingerprint).ok_or_else(|| {
            bad(format!(
                "metadata fingerprint {fingerprint:?} is not 16 hex digits"
            ))
        })?;
        let index = Self {
            server,
            table: table.to_string(),
            dim,
            len,
            fingerprint,
            min_ef_search: DEFAULT_MIN_EF_SEARCH,
            pool: Mutex::new(Vec::new()),
        };
        let conn = index.prepare(client)?;
        index.release(conn);
        Ok(index)
    }

    /// Sets the smallest `hnsw.ef_search` used (clamped to 1..=[`MAX_EF_SEARCH`]): higher finds
    /// the true top K more often, at some cost in time.
    pub fn with_min_ef_search(mut self, ef_search: usize) -> Self {
        self.min_ef_search = ef_search.clamp(1, MAX_EF_SEARCH);
        self
    }

    /// The table searched.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Prepares the statements of a new connection.
    fn prepare(&self, mut client: Client) -> Result<Conn> {
        let search = client
            .prepare(&format!(
                "SELECT position, (embedding <#> $1)::float8 FROM {} ORDER BY embedding <#> $1 LIMIT $2",
                quoted(&self.table)
            ))
            .map_err(|source| self.query_error("prepare the search", source))?;
        let check = client
            .prepare(&format!(
                "SELECT fingerprint FROM {METADATA_TABLE} WHERE name = $1"
            ))
            .map_err(|source| self.query_error("prepare the metadata check", source))?;
        Ok(Conn {
            client,
            search,
            check,
        })
    }

    /// A pooled connection, or a new one when none is idle.
    fn acquire(&self) -> Result<Conn> {
        let idle = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.prepare(self.server.connect()?),
        }
    }

    /// Returns a connection to the pool unless it broke or the pool is full.
    fn release(&self, conn: Conn) {
        if conn.client.is_closed() {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < MAX_IDLE_CONNECTIONS {
            pool.push(conn);
        }
    }

    fn query_error(&self, action: &'static str, source: postgres::Error) -> PgVectorError {
        PgVectorError::Query {
            server: self.server.name().to_string(),
            table: self.table.clone(),
            action,
            source,
        }
    }

    /// Runs a validated batch on one connection; see [`TopKIndex::search`].
    fn search_batch(
        &self,
        conn: &mut Conn,
        queries: &[f32],
        k: usize,
        exclusions: Option<&Exclusions>,
    ) -> Result<Vec<Vec<Hit>>> {
        let mut tx = conn
            .client
            .transaction()
            .map_err(|source| self.query_error("begin", source))?;
        let mut settings = Settings::default();
        let mut rows = Vec::with_capacity(queries.len() / self.dim);
        for (query, vector) in queries.chunks_exact(self.dim).enumerate() {
            let excluded = exclusions.map_or(0, |ex| ex.excluded_at_most(query));
            // Every row an exclusion removes must be made up for, up to the whole table.
            let fetch = (k + excluded).min(self.len);
            let exact = fetch > MAX_EF_SEARCH;
            let ef = fetch.max(self.min_ef_search).min(MAX_EF_SEARCH);
            settings
                .apply(&mut tx, exact, ef)
                .map_err(|source| self.query_error("set the search parameters", source))?;
            let found = tx
                .query(
                    &conn.search,
                    &[&Vector::from(vector.to_vec()), &(fetch as i64)],
                )
                .map_err(|source| self.query_error("search", source))?;
            let mut hits = Vec::with_capacity(k);
            for row in found {
                let position: i32 = row
                    .try_get(0)
                    .map_err(|source| self.query_error("read the results", source))?;
                let negated: f64 = row
                    .try_get(1)
                    .map_err(|source| self.query_error("read the results", source))?;
                let item = u32::try_from(position)
                    .ok()
                    .filter(|&item| (item as usize) < self.len)
                    .ok_or_else(|| {
                        self.bad(format!(
                            "holds position {position}, outside 0..{}",
                            self.len
                        ))
                    })?;
                if exclusions.is_some_and(|ex| ex.excludes(query, item)) {
                    continue;
                }
                // `<#>` is the negative inner product, so that ascending order ranks best first.
                hits.push(Hit {
                    item,
                    score: -negated as f32,
                });
            }
            hits.sort_by(Hit::rank_order);
            hits.truncate(k);
            rows.push(hits);
        }
        // Checked after the searches: any search that read a newer export committed before this.
        let current = tx
            .query_opt(&conn.check, &[&self.table])
            .map_err(|source| self.query_error("check the metadata", source))?
            .map(|row| row.try_get::<_, String>(0))
            .transpose()
            .map_err(|source| self.query_error("check the metadata", source))?;
        if current.as_deref() != Some(self.fingerprint.to_string().as_str()) {
            return Err(self.bad(format!(
                "was re-exported or removed since it was opened (fingerprint {} then, {} now); open it again",
                self.fingerprint,
                current.as_deref().unwrap_or("none")
            )));
        }
        tx.commit()
            .map_err(|source| self.query_error("commit", source))?;
        Ok(rows)
    }

    fn bad(&self, reason: String) -> PgVectorError {
        PgVectorError::BadContent {
            server: self.server.name().to_string(),
            table: self.table.clone(),
            reason,
        }
    }
}

/// The session settings last applied in a search transaction, so each is sent only on change.
#[derive(Default)]
struct Settings {
    exact: Option<bool>,
    ef: Option<usize>,
}

impl Settings {
    fn apply(
        &mut self,
        tx: &mut Transaction<'_>,
        exact: bool,
        ef: usize,
    ) -> std::result::Result<(), postgres::Error> {
        let mut sql = String::new();
        if self.exact != Some(exact) {
            let value = if exact { "off" } else { "on" };
            sql.push_str(&format!("SET LOCAL enable_indexscan = {value};"));
            self.exact = Some(exact);
        }
        if !exact && self.ef != Some(ef) {
            sql.push_str(&format!("SET LOCAL hnsw.ef_search = {ef};"));
            self.ef = Some(ef);
        }
        if sql.is_empty() {
            Ok(())
        } else {
            tx.batch_execute(&sql)
        }
    }
}

impl TopKIndex for PgVectorIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn len(&self) -> usize {
        self.len
    }

    fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    fn source_name(&self) -> String {
        format!("{} table {}", self.server.name(), self.table)
    }

    fn search(
        &self,
        queries: &[f32],
        k: usize,
        exclusions: Option<&Exclusions>,
    ) -> cascade_retrieve::Result<TopK> {
        let plan = plan_search(self.dim, self.len, queries, k, exclusions)?;
        let mut conn = self.acquire().map_err(|err| into_retrieve(self, err))?;
        let result = self.search_batch(&mut conn, queries, plan.k, exclusions);
        // A connection whose transaction failed was rolled back when the transaction dropped.
        self.release(conn);
        let rows = result.map_err(|err| into_retrieve(self, err))?;
        Ok(TopK::from_rows(rows, plan.clamped))
    }
}

/// Carries a database failure through the [`TopKIndex`] error type, which has no variant for
/// servers: as an I/O error on the index's source name, with the full error as its source.
fn into_retrieve(index: &PgVectorIndex, err: PgVectorError) -> RetrieveError {
    match err {
        PgVectorError::Retrieve(err) => err,
        err => {
            let name = index.source_name();
            let text = err.to_string();
            // The path already names the server and table: do not say it twice.
            let detail = text
                .strip_prefix(&format!("{name}: "))
                .unwrap_or(&text)
                .to_string();
            RetrieveError::Io {
                path: name.into(),
                source: std::io::Error::other(detail),
            }
        }
    }
}

impl Drop for PgVectorIndex {
    fn drop(&mut self) {
        let idle = std::mem::take(self.pool.get_mut().unwrap_or_else(PoisonError::into_inner));
        if idle.is_empty() {
            return;
        }
        // A client owns a tokio runtime, which must not be dropped inside an async context (where
        // a service may drop its last handle to the index): close the connections elsewhere.
        let _ = std::thread::Builder::new()
            .name("pgvector-close".into())
            .spawn(move || drop(idle));
    }
}

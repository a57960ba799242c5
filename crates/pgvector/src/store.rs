//! Writing item embeddings into PostgreSQL: one table per export, loaded with binary COPY into a
//! staging table, indexed, and swapped in within one transaction.

use cascade_retrieve::{Fingerprint, ItemEmbeddings, Metric};
use pgvector::Vector;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::{Client, Transaction};

use crate::error::{PgVectorError, Result};
use crate::target::{METADATA_TABLE, Server, quoted, validate_table_name};

/// Key of the transaction-level advisory lock that serialises exports (and the creation of the
/// metadata table) on one database: "cascade" in ASCII.
pub(crate) const EXPORT_LOCK: i64 = 0x0063_6173_6361_6465;

/// How the HNSW index of an export is built; `m` and `ef_construction` default to pgvector's own
/// values. Building the graph dominates an export: 100k × 64 items copy in under a second but
/// take about a minute and a half to index on two cores, so lower `ef_construction` for speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HnswBuild {
    /// Links per node (pgvector's `m`): more links, better recall, larger index.
    pub m: u32,
    /// Candidate list size while building (`ef_construction`): larger builds slower but better.
    pub ef_construction: u32,
    /// Memory the build may use (`maintenance_work_mem`, MiB); a graph that does not fit is built
    /// more slowly on disk.
    pub maintenance_work_mem_mb: u32,
}

impl Default for HnswBuild {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 64,
            maintenance_work_mem_mb: 256,
        }
    }
}

/// What an export wrote, as recorded in the metadata table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// The table written.
    pub table: String,
    /// Vector width.
    pub dim: usize,
    /// Items written.
    pub items: usize,
    /// The metric the index ranks by (always inner product).
    pub metric: Metric,
    /// The fingerprint of the exported embeddings.
    pub fingerprint: Fingerprint,
}

/// A connection for writing item embeddings to a PostgreSQL database with pgvector.
///
/// Like every `postgres` client, it runs a small tokio runtime of its own: use it from plain
/// threads or `spawn_blocking`, never directly inside an async task.
pub struct PgVectorStore {
    server: Server,
    client: Client,
}

impl PgVectorStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/db`; TLS is not
    /// supported). The `vector` extension must already be created in that database.
    pub fn connect(url: &str) -> Result<Self> {
        let server = Server::parse(url)?;
        let client = server.connect()?;
        Ok(Self { server, client })
    }

    /// The server as `postgres://host:port/db`, without user or password.
    pub fn server_name(&self) -> &str {
        self.server.name()
    }

    /// Writes `embeddings` into `table` with default HNSW build settings; see
    /// [`export_with`](Self::export_with).
    pub fn export<S: AsRef<str>>(
        &mut self,
        table: &str,
        embeddings: &ItemEmbeddings,
        item_ids: &[S],
    ) -> Result<ExportSummary> {
        self.export_with(table, embeddings, item_ids, HnswBuild::default())
    }

    /// Writes `embeddings` into `table`: row `i` gets position `i` (the dense index the rest of
    /// Cascade uses), raw id `item_ids[i]` and vector `i`, under an HNSW inner-product index, and
    /// records the export in the metadata table.
    ///
    /// Atomic: the rows go into a staging table which, in the same transaction, replaces the old
    /// table, so readers see the old export or the new one, never a partial one. An existing
    /// table that no export recorded is refused rather than dropped.
    pub fn export_with<S: AsRef<str>>(
        &mut self,
        table: &str,
        embeddings: &ItemEmbeddings,
        item_ids: &[S],
        build: HnswBuild,
    ) -> Result<ExportSummary> {
        validate_table_name(table)?;
        let items = embeddings.len();
        let dim = embeddings.dim();
        if item_ids.len() != items {
            return Err(PgVectorError::Shape {
                what: "item ids",
                reason: format!("{} ids for {items} embedding rows", item_ids.len()),
            });
        }
        if i32::try_from(items).is_err() {
            return Err(PgVectorError::Shape {
                what: "item embeddings",
                reason: format!("{items} items exceed the 2^31 positions of an integer column"),
            });
        }
        // pgvector's limit for an HNSW-indexed vector column.
        if dim > 2000 {
            return Err(PgVectorError::Shape {
                what: "item embeddings",
                reason: format!("dimension {dim} exceeds pgvector's HNSW limit of 2000"),
            });
        }
        let summary = ExportSummary {
            table: table.to_string(),
            dim,
            items,
            metric: Metric::InnerProduct,
            fingerprint: embeddings.fingerprint(),
        };
        let server = self.server.name().to_string();
        let fail = |action: &'static str| {
            let server = server.clone();
            move |source| PgVectorError::Query {
                server,
                table: table.to_string(),
                action,
                source,
            }
        };
        let mut tx = self.client.transaction().map_err(fail("begin"))?;
        prepare_export(&mut tx, table).map_err(|err| match err {
            Prep::Sql(action, source) => fail(action)(source),
            Prep::Foreign => PgVectorError::BadContent {
                server: server.clone(),
                table: table.to_string(),
                reason: format!(
                    "a table of that name exists but no export recorded it in {METADATA_TABLE}; refusing to replace it"
                ),
            },
        })?;
        let staging = quoted(&format!("{table}__new"));
        tx.batch_execute(&format!(
            "DROP TABLE IF EXISTS {staging};
             CREATE TABLE {staging} (
                 position integer NOT NULL,
                 item_id text NOT NULL,
                 embedding vector({dim}) NOT NULL,
                 CONSTRAINT {pkey} PRIMARY KEY (position)
             );",
            pkey = quoted(&format!("{table}__new_pkey")),
        ))
        .map_err(fail("create the staging table"))?;
        let vector_type = tx
            .prepare("SELECT NULL::vector")
            .map_err(fail("look up the vector type (is the extension created?)"))?
            .columns()
            .first()
            .map(|column| column.type_().clone())
            .ok_or_else(|| PgVectorError::BadContent {
                server: server.clone(),
                table: table.to_string(),
                reason: "the server described no column for a vector".into(),
            })?;
        let sink = tx
            .copy_in(&format!(
                "COPY {staging} (position, item_id, embedding) FROM STDIN (FORMAT binary)"
            ))
            .map_err(fail("start the COPY"))?;
        let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT4, Type::TEXT, vector_type]);
        for (position, (row, id)) in embeddings
            .values()
            .chunks_exact(dim)
            .zip(item_ids)
            .enumerate()
        {
            // Bounded above by the item-count check.
            let position = position as i32;
            let vector = Vector::from(row.to_vec());
            let values: [&(dyn ToSql + Sync); 3] = [&position, &id.as_ref(), &vector];
            writer.write(&values).map_err(fail("copy the rows"))?;
        }
        writer.finish().map_err(fail("finish the COPY"))?;
        tx.batch_execute(&format!(
            "SET LOCAL maintenance_work_mem = '{mem}MB';
             CREATE INDEX {hnsw} ON {staging} USING hnsw (embedding vector_ip_ops)
                 WITH (m = {m}, ef_construction = {ef});
             DROP TABLE IF EXISTS {live};
             ALTER TABLE {staging} RENAME TO {live};
             ALTER INDEX {staging_pkey} RENAME TO {live_pkey};
             ALTER INDEX {hnsw} RENAME TO {live_hnsw};",
            mem = build.maintenance_work_mem_mb.max(1),
            hnsw = quoted(&format!("{table}__new_hnsw")),
            m = build.m,
            ef = build.ef_construction,
            live = quoted(table),
            staging_pkey = quoted(&format!("{table}__new_pkey")),
            live_pkey = quoted(&format!("{table}__pkey")),
            live_hnsw = quoted(&format!("{table}__hnsw")),
        ))
        .map_err(fail("build the HNSW index and swap the table in"))?;
        tx.execute(
            &format!(
                "INSERT INTO {METADATA_TABLE} (name, dim, items, metric, fingerprint, created_at)
                 VALUES ($1, $2, $3, $4, $5, now())
                 ON CONFLICT (name) DO UPDATE SET dim = EXCLUDED.dim, items = EXCLUDED.items,
                     metric = EXCLUDED.metric, fingerprint = EXCLUDED.fingerprint,
                     created_at = EXCLUDED.created_at"
            ),
            &[
                &table,
                &(dim as i32),
                &(items as i64),
                &summary.metric.name(),
                &summary.fingerprint.to_string(),
            ],
        )
        .map_err(fail("record the export"))?;
        tx.commit().map_err(fail("commit"))?;
        Ok(summary)
    }
}

/// Why the first steps of an export stopped.
enum Prep {
    Sql(&'static str, postgres::Error),
    Foreign,
}

/// Takes the export lock, creates the metadata table if needed, and refuses to replace a table
/// that no export wrote.
fn prepare_export(tx: &mut Transaction<'_>, table: &str) -> std::result::Result<(), Prep> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EXPORT_LOCK])
        .map_err(|err| Prep::Sql("take the export lock", err))?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {METADATA_TABLE} (
             name text PRIMARY KEY,
             dim integer NOT NULL,
             items bigint NOT NULL,
             metric text NOT NULL,
             fingerprint text NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now()
         )"
    ))
    .map_err(|err| Prep::Sql("create the metadata table", err))?;
    let exists = tx
        .query_one("SELECT to_regclass(quote_ident($1)) IS NOT NULL", &[&table])
        .map_err(|err| Prep::Sql("look the table up", err))?
        .try_get::<_, bool>(0)
        .map_err(|err| Prep::Sql("look the table up", err))?;
    if exists {
        let recorded = tx
            .query_opt(
                &format!("SELECT 1 FROM {METADATA_TABLE} WHERE name = $1"),
                &[&table],
            )
            .map_err(|err| Prep::Sql("look the table up", err))?;
        if recorded.is_none() {
            return Err(Prep::Foreign);
        }
    }
    Ok(())
}

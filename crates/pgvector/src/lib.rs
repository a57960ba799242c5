//! Item embeddings in PostgreSQL with the pgvector extension, searched as a Cascade top-K index.
//!
//! # Why a vector database
//! The in-memory indexes of `cascade-retrieve` live inside one serving process. Keeping the item
//! embeddings in PostgreSQL instead lets many services share one copy, lets an operator inspect
//! and join them with the catalogue in SQL, and replaces an index for everyone at once. pgvector
//! stores each item as a `vector(D)` and searches it with an HNSW graph, an approximate index
//! like Cascade's own [`HnswIndex`](cascade_retrieve::HnswIndex).
//!
//! # The tables
//! [`PgVectorStore::export`] writes one table per export: `(position integer primary key,
//! item_id text, embedding vector(D))`, where `position` is the dense item index the rest of
//! Cascade uses and `item_id` the raw catalogue id, indexed with `USING hnsw (embedding
//! vector_ip_ops)`: inner product, Cascade's retrieval metric. The rows are copied (binary COPY)
//! into a staging table that replaces the old one in the same transaction, so readers see the
//! old export or the new one, never a half-written one. The metadata table [`METADATA_TABLE`]
//! records, per exported table, the dimension, the item count, the metric and the
//! [`Fingerprint`](cascade_retrieve::Fingerprint) of the embeddings, so that
//! [`PgVectorIndex::open`] needs nothing but the URL and the table name, and a server can refuse
//! a table built from another model's embeddings
//! ([`TopKIndex::check_fingerprint`](cascade_retrieve::TopKIndex::check_fingerprint)).
//!
//! # Searching, exclusions and `ef_search`
//! [`PgVectorIndex`] implements [`TopKIndex`](cascade_retrieve::TopKIndex): for each query it
//! asks for the rows with the smallest `embedding <#> query` (pgvector's *negative* inner
//! product; the score returned is the inner product itself, higher is better). Exclusions (items
//! a user has seen, withdrawn items) are applied on the client: the query fetches K plus the
//! number of items it excludes, drops the excluded ones and keeps K, so the answer still holds K
//! items whenever K eligible items exist. An HNSW scan returns at most `hnsw.ef_search` rows, so
//! each query's transaction sets `ef_search` to at least that many (and at least
//! [`DEFAULT_MIN_EF_SEARCH`], for recall); pgvector caps it at [`MAX_EF_SEARCH`], and a query that
//! needs more turns index scans off and is ranked exactly by a full scan.
//!
//! Both types use the synchronous `postgres` client, which runs a tokio runtime of its own: call
//! them from plain threads or from `tokio::task::spawn_blocking`, not inside async tasks.
//! Connections use no TLS.
//!
//! `scripts/postgres-server.sh` starts a local PostgreSQL with pgvector for tests and trials.

mod error;
mod index;
mod store;
mod target;

pub use error::{PgVectorError, Result};
pub use index::{DEFAULT_MIN_EF_SEARCH, MAX_EF_SEARCH, PgVectorIndex};
pub use store::{ExportSummary, HnswBuild, PgVectorStore};
pub use target::{MAX_TABLE_NAME, METADATA_TABLE, validate_table_name};

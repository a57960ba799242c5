//! Converters from MovieLens, Learning-from-Sets, Criteo, CSV/TSV and Parquet into Cascade datasets (MDS shards, vocabularies, splits).

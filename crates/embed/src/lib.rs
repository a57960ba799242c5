//! Embedding tables and collections over keyed jagged features, with fused sparse optimizers that update only touched rows.

//! Criteo TSV reader (filled in by the data work).

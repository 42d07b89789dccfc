//! Metrics: AUC, DeLong intervals, logloss.

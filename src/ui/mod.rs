//! Screen drawing: one file per panel.

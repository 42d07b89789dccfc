//! Criteo TSV reader (to be implemented).
use super::{Batch, BatchStream, DataError, DataSource};

pub struct FileSource;
impl FileSource {
    pub fn open(_cfg: &crate::config::Config) -> Result<FileSource, DataError> {
        Err(DataError::Unusable {
            path: "criteo".into(),
            reason: "not built yet".into(),
        })
    }
}
impl DataSource for FileSource {
    fn label(&self) -> String {
        "criteo".into()
    }
    fn is_synthetic(&self) -> bool {
        false
    }
    fn open_train(&self) -> Result<Box<dyn BatchStream>, DataError> {
        Err(DataError::Unusable {
            path: "criteo".into(),
            reason: "not built yet".into(),
        })
    }
    fn test_set(&self) -> Result<Batch, DataError> {
        Err(DataError::Unusable {
            path: "criteo".into(),
            reason: "not built yet".into(),
        })
    }
}

//! DLRM: MLPs, interaction, loss.

//! hearth-config

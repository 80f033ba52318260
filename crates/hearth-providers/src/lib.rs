//! hearth-providers

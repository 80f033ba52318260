//! hearth-test-utils

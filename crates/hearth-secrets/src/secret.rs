//! A secret value that never prints itself.

use std::fmt;

/// A secret value. `Debug` and `Display` print `[redacted]`; [`Secret::expose`] is the only way
/// to read it, so every read is visible in the code. The buffer is zeroed on drop.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The value. Don't log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(std::mem::take(&mut self.0).into_bytes());
    }
}

/// Overwrites a buffer before freeing it. Best effort: copies made by earlier reallocations
/// are out of reach.
pub(crate) fn wipe(mut bytes: Vec<u8>) {
    bytes.fill(0);
    // Keeps the compiler from dropping the writes to a buffer that is about to be freed.
    std::hint::black_box(&bytes);
}

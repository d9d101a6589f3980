//! The crate's error type.

/// Why a fixture could not be built or a process could not be driven.
#[derive(Debug, thiserror::Error)]
pub enum DevkitError {
    /// A committed contract artifact does not decode.
    #[error("contract artifact {name}: {detail}")]
    Artifact {
        /// `Token` or `Pair`.
        name: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// Setting up (files, starting processes).
    #[error("{0}")]
    Setup(String),
    /// A running process or a request to it failed.
    #[error("{0}")]
    Run(String),
}

impl DevkitError {
    /// A set-up failure with `e`'s message.
    pub fn setup(e: impl std::fmt::Display) -> DevkitError {
        DevkitError::Setup(e.to_string())
    }

    /// A run-time failure with `e`'s message.
    pub fn run(e: impl std::fmt::Display) -> DevkitError {
        DevkitError::Run(e.to_string())
    }
}

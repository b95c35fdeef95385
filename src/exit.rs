//! Exit codes, and the one error type that carries one. Everything else exits 1.

use crate::queue::QueueFull;

/// What the process tells its caller. Documented in `--help` (see `cli::EXIT_CODES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Done: everything was delivered or registered.
    Ok = 0,
    /// Something else failed (I/O, a bug); see the message.
    Failure = 1,
    /// Bad command line or config: nothing was sent.
    Usage = 2,
    /// The server could not be reached or answered 5xx: results are queued, not lost, and
    /// go out with the next delivery; registrations are retried by the next run.
    Queued = 3,
    /// The server refused for good (4xx, e.g. a wrong key): such results are kept in
    /// `rejected/` and shown by `status`.
    Rejected = 4,
    /// The queue is full: the result was NOT accepted (with several backends: not by the one
    /// whose queue is full).
    QueueFull = 5,
    /// `status --check` only: a monitoring plugin's CRITICAL (the process exits 2).
    Critical = 102,
    /// `status --check` only: a monitoring plugin's UNKNOWN, the check could not be made (a
    /// missing or broken config; the process exits 3).
    Unknown = 103,
}

impl Code {
    /// The process's exit status.
    pub fn value(self) -> u8 {
        match self {
            Code::Critical => 2,
            Code::Unknown => 3,
            other => other as u8,
        }
    }

    /// The worse of two outcomes, for commands that do many things.
    pub fn worst(self, other: Code) -> Code {
        let rank = |c: Code| match c {
            Code::Ok => 0,
            Code::Queued => 1,
            Code::Rejected => 2,
            Code::Failure => 3,
            Code::QueueFull => 4,
            Code::Usage => 5,
            Code::Critical => 6,
            Code::Unknown => 7,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// An error that decides the exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: Code,
    pub error: anyhow::Error,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Exit {}

/// Marks an error as a usage or config error (exit 2).
pub fn usage(error: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code: Code::Usage,
        error,
    })
}

/// The exit code an error stands for.
pub fn code_of(error: &anyhow::Error) -> Code {
    if let Some(exit) = error.downcast_ref::<Exit>() {
        exit.code
    } else if error.downcast_ref::<QueueFull>().is_some() {
        Code::QueueFull
    } else {
        Code::Failure
    }
}

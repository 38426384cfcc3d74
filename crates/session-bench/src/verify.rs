//! What verifying a session token costs in process, without HTTP or a store: the work a read
//! by token does on top of a read by id.

use std::hint::black_box;
use std::time::{Duration, Instant};

use session_core::{PresentedToken, SessionId, SessionToken};

/// Calls per round.
const CALLS: u32 = 200_000;
/// Rounds per figure; the fastest is kept, since a shared machine only ever slows a round down.
const ROUNDS: usize = 5;

/// The cost of each step of a token's verification, per call, on one thread.
#[derive(Debug, Clone, Copy)]
pub struct VerifyCost {
    /// SHA-256 of a secret's 32 bytes.
    pub sha256: Duration,
    /// Reading a presented token whole: the base64url decode, the SHA-256 and the id's parse.
    pub parse: Duration,
    /// The constant-time comparison of the presented hash with the stored one.
    pub compare: Duration,
}

impl VerifyCost {
    /// The figures as a sentence of the report.
    pub fn sentence(&self) -> String {
        format!(
            "Verifying a token in process, on one thread (the fastest of {ROUNDS} rounds of {CALLS} calls): reading the presented token (base64url decode, SHA-256 of the 32 secret bytes, the id's parse) {:.2} µs, of which the SHA-256 {:.2} µs; the constant-time comparison of the hashes {:.3} µs.",
            micros(self.parse),
            micros(self.sha256),
            micros(self.compare),
        )
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// The fastest of `ROUNDS` rounds of `CALLS` calls of `step`, per call.
fn per_call(mut step: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let began = Instant::now();
            for _ in 0..CALLS {
                step();
            }
            began.elapsed() / CALLS
        })
        .min()
        .unwrap_or_default()
}

/// Measures each step on a freshly generated token (about a second in all).
pub fn measure() -> VerifyCost {
    let Ok(token) = SessionToken::generate(SessionId::generate()) else {
        return VerifyCost {
            sha256: Duration::ZERO,
            parse: Duration::ZERO,
            compare: Duration::ZERO,
        };
    };
    let text = token.to_string();
    let stored = token.secret_hash();
    let sha256 = per_call(|| {
        black_box(black_box(&token).secret_hash());
    });
    let parse = per_call(|| {
        let _ = black_box(PresentedToken::parse(black_box(&text)));
    });
    let compare = per_call(|| {
        black_box(black_box(&stored).matches(black_box(&stored)));
    });
    VerifyCost {
        sha256,
        parse,
        compare,
    }
}

//! Cold-start baseline: the smallest `lambda_http` function, answering every event with a
//! fixed JSON body. `scripts/bench-lambda-cold-start` measures `session-lambda` against it on
//! the same machine in the same run, so that the figures are ratios rather than absolute
//! claims about a shared, noisy machine. It uses the same single-threaded runtime as the
//! function, so that the ratio measures the function's own start-up work.

use std::convert::Infallible;

fn main() -> Result<(), lambda_http::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(lambda_http::run(lambda_http::service_fn(
        |_request: lambda_http::Request| async { Ok::<_, Infallible>(r#"{"status":"ok"}"#) },
    )))
}

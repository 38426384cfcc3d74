//! Reporting a failed initialisation to the Lambda Runtime API.
//!
//! `lambda_runtime` reports errors of invocations, not of the code that runs before it starts.
//! Without this report Lambda only sees the process exit ("Runtime exited with error"); with
//! it, the caller of the failed invocation and the function's logs get the reason itself
//! (`Runtime.InvalidSettings: DYNAMODB_TABLE_NAME: is not set …`).
//!
//! The request is one small POST to the Runtime API, which is on the function's own host; a
//! plain HTTP/1.1 exchange over a `TcpStream` is enough and needs no async runtime (the
//! failure may come before there is one).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The path of the init error endpoint.
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// How long the report may take: initialisation is failing anyway, and the process must exit.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// The JSON body of an error report, as the Runtime API documents it.
pub fn error_body(error_type: &str, message: &str) -> String {
    serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string()
}

/// Posts the error to `http://{runtime_api}/2018-06-01/runtime/init/error` and returns the
/// HTTP status of the answer.
pub fn report(runtime_api: &str, error_type: &str, message: &str) -> io::Result<u16> {
    let address = runtime_api
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for the Runtime API"))?;
    let mut stream = TcpStream::connect_timeout(&address, REPORT_TIMEOUT)?;
    stream.set_read_timeout(Some(REPORT_TIMEOUT))?;
    stream.set_write_timeout(Some(REPORT_TIMEOUT))?;

    let body = error_body(error_type, message);
    // Header values must be one line; an error type is a short identifier anyway.
    let header_type: String = error_type
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .collect();
    let request = format!(
        "POST {INIT_ERROR_PATH} HTTP/1.1\r\nHost: {runtime_api}\r\nContent-Type: application/json\r\nLambda-Runtime-Function-Error-Type: {header_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;

    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer)?;
    status_of(&answer)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP answer"))
}

/// The status code of an HTTP/1.x answer.
fn status_of(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    words
        .next()
        .filter(|version| version.starts_with("HTTP/1."))?;
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_documented_json() {
        let body: serde_json::Value =
            serde_json::from_str(&error_body("Runtime.InvalidSettings", "X: \"bad\""))
                .expect("json");
        assert_eq!(body["errorType"], "Runtime.InvalidSettings");
        assert_eq!(body["errorMessage"], "X: \"bad\"");
    }

    #[test]
    fn reads_the_status_line() {
        assert_eq!(status_of(b"HTTP/1.1 202 Accepted\r\n\r\n"), Some(202));
        assert_eq!(status_of(b"garbage"), None);
        assert_eq!(status_of(b""), None);
    }
}

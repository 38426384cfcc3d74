//! SDK errors, classified by meaning.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::{BoxError, SessionError};

/// Error codes DynamoDB uses when it sheds load; the request is worth retrying later.
const THROTTLING_CODES: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
];

/// Codes that mean the store cannot serve now: trouble on its side, or a missing table (a
/// deployment fault that `/ready` reports until the table exists).
const UNAVAILABLE_CODES: [&str; 4] = [
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "ResourceNotFoundException",
];

/// Maps an SDK error to the store error it means, keeping it as the source.
pub(super) fn classify<E, R>(error: SdkError<E, R>) -> SessionError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().map(str::to_owned);
            let message = service.err().message().unwrap_or_default().to_owned();
            by_code(code.as_deref(), &message, Box::new(error))
        }
        // No answer, or no answer that could be read: the network or the service is down.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            SessionError::unavailable(error)
        }
        _ => SessionError::internal(error),
    }
}

fn by_code(code: Option<&str>, message: &str, source: BoxError) -> SessionError {
    match code {
        Some(code) if THROTTLING_CODES.contains(&code) => SessionError::Throttled { source },
        Some(code) if UNAVAILABLE_CODES.contains(&code) => SessionError::Unavailable { source },
        // The data limit is checked on its JSON size; DynamoDB counts an item otherwise (an
        // empty list is 3 bytes of JSON and 4 of item), so data under the limit can still make
        // an item over 400 KB. It is the caller's data that is too large: 413, not 500.
        Some("ValidationException") if message.contains("Item size") => {
            tracing::debug!(error = %source, "DynamoDB refused an item as too large");
            SessionError::ItemTooLarge
        }
        // A table without the index the listings query is a deployment fault, like a table
        // that does not exist: 503 until it is fixed (and /ready says so).
        Some("ValidationException") if message.contains("specified index") => {
            SessionError::Unavailable { source }
        }
        _ => SessionError::Internal { source },
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    use super::*;

    fn service_error(code: &str) -> SessionError {
        service_error_saying(code, "from the service")
    }

    /// The raw response does not matter to the classification: `()` stands in for it.
    fn service_error_saying(code: &str, message: &str) -> SessionError {
        let error =
            GetItemError::generic(ErrorMetadata::builder().code(code).message(message).build());
        classify(SdkError::service_error(error, ()))
    }

    #[test]
    fn an_item_too_large_is_the_callers_and_a_missing_index_the_deployments() {
        assert!(matches!(
            service_error_saying(
                "ValidationException",
                "Item size has exceeded the maximum allowed size"
            ),
            SessionError::ItemTooLarge
        ));
        assert!(matches!(
            service_error_saying(
                "ValidationException",
                "The table does not have the specified index: userId-index"
            ),
            SessionError::Unavailable { .. }
        ));
        assert!(matches!(
            service_error_saying("ValidationException", "something else"),
            SessionError::Internal { .. }
        ));
    }

    #[test]
    fn throttling_is_retryable_not_internal() {
        for code in THROTTLING_CODES {
            assert!(
                matches!(service_error(code), SessionError::Throttled { .. }),
                "{code}"
            );
        }
    }

    #[test]
    fn service_trouble_and_a_missing_table_are_unavailable() {
        for code in UNAVAILABLE_CODES {
            assert!(
                matches!(service_error(code), SessionError::Unavailable { .. }),
                "{code}"
            );
        }
    }

    #[test]
    fn timeouts_are_unavailable_and_bad_requests_internal() {
        let timeout: SdkError<GetItemError, ()> = SdkError::timeout_error("attempt timed out");
        assert!(matches!(
            classify(timeout),
            SessionError::Unavailable { .. }
        ));
        assert!(matches!(
            service_error("ValidationException"),
            SessionError::Internal { .. }
        ));
    }
}

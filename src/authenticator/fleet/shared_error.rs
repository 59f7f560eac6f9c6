//! The fleet's shared error format: a permanent login failure as replicas share it through a
//! credential store, so that every replica reports the same [`Error`] for one failed login.

use bytes::Bytes;
use http::StatusCode;

use crate::error::{ApiFailure, Error, FailureDetail};

/// A permanent login failure as a fleet of replicas shares it through a credential store: enough
/// to rebuild an [`Error`] of the same kind with the same ThoughtSpot detail (status, code,
/// message, incident and trace ids), but not the raw body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SharedError {
    kind: String,
    status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upstream: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    incident: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace: Option<String>,
}

impl SharedError {
    /// The parts of a permanent failure ThoughtSpot answered, to share with other replicas;
    /// `None` for errors that are this replica's own (configuration, transport, shutdown).
    pub(crate) fn of(error: &Error) -> Option<Self> {
        let kind = match error {
            Error::RefusedByBackoff(refused) => return Self::of(refused.opened_by()),
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::BadRequest(_) => "bad_request",
            Error::MalformedResponse(m) => {
                return Some(Self {
                    kind: "malformed".into(),
                    status: m.status().as_u16(),
                    upstream: None,
                    code: None,
                    message: Some(m.reason().to_owned()),
                    incident: None,
                    trace: None,
                });
            }
            _ => return None,
        };
        let f = error.api_failure()?;
        Some(Self {
            kind: kind.into(),
            status: f.status().as_u16(),
            upstream: f.upstream_status().map(|s| s.as_u16()),
            code: f.code(),
            message: f.message().map(str::to_owned),
            incident: f.incident_id().map(str::to_owned),
            trace: f.trace_id().map(str::to_owned),
        })
    }

    /// Rebuilds the error another replica shared; `None` if the parts make no sense.
    pub(crate) fn into_error(self) -> Option<Error> {
        let shared = self;
        let status = StatusCode::from_u16(shared.status).ok()?;
        if shared.kind == "malformed" {
            return Some(Error::malformed(status, shared.message.unwrap_or_default()));
        }
        let failure = ApiFailure::new(FailureDetail {
            status,
            upstream_status: shared.upstream.and_then(|s| StatusCode::from_u16(s).ok()),
            code: shared.code,
            message: shared.message,
            incident_id: shared.incident,
            trace_id: shared.trace,
            retry_after: None,
            raw_body: Bytes::new(),
        });
        match shared.kind.as_str() {
            "unauthorized" => Some(Error::Unauthorized(failure)),
            "forbidden" => Some(Error::Forbidden(failure)),
            "bad_request" => Some(Error::BadRequest(failure)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_version::ApiVersion;
    use crate::error::ErrorKind;
    use crate::session::error_body::classify_json;

    #[test]
    fn shared_errors_rebuild_the_same_kind_and_detail() {
        let original = classify_json(
            ApiVersion::V2,
            403,
            r#"{"error":{"message":{"code":10023,"debug":"User is locked","incident_id_guid":"inc-7"}}}"#,
        );
        let json = serde_json::to_string(&SharedError::of(&original).unwrap()).unwrap();
        let rebuilt = serde_json::from_str::<SharedError>(&json)
            .unwrap()
            .into_error()
            .unwrap();
        assert_eq!(rebuilt.kind(), ErrorKind::Forbidden);
        assert_eq!(rebuilt.to_string(), original.to_string());
        let malformed = Error::malformed(StatusCode::OK, "no token");
        let rebuilt = SharedError::of(&malformed).unwrap().into_error().unwrap();
        assert_eq!(rebuilt.to_string(), malformed.to_string());
        assert!(SharedError::of(&Error::Shutdown).is_none());
        assert!(SharedError::of(&classify_json(ApiVersion::V2, 503, "{}")).is_none());
    }
}

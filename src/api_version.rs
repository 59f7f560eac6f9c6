//! Which generation of ThoughtSpot's REST API is spoken: chosen on the builder, and read by the
//! session API to know how a rejected credential and an error look.

/// The generations of ThoughtSpot's REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ApiVersion {
    /// v2.0, `/api/rest/2.0/...`: the current API. Rejected credentials answer 401.
    #[default]
    V2,
    /// The v2 beta, `/tspublic/rest/v2/...`: every error is a 500 with the real status nested.
    Beta,
    /// v1, `/callosum/v1/tspublic/v1/...`: form bodies.
    V1,
}

//! Both front doors — the tower layer over hyper-util's client and the reqwest-middleware
//! adapter — behind one small client, so a scenario can run through either.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use thoughtspot_auth::{ActAs, AuthBuilder, AuthHandle, Error, OrgIdentifier, OrgOverride};
use tower::ServiceExt;

use super::{AuthService, HyperClient};

/// Which front door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    Tower,
    Reqwest,
}

pub const FRONTS: [Front; 2] = [Front::Tower, Front::Reqwest];

/// A client through one front door.
#[derive(Clone)]
pub enum Client {
    Tower(Box<AuthService>),
    Reqwest(reqwest_middleware::ClientWithMiddleware),
}

/// A request, described so either front door can send it.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    pub url: String,
    pub org: Option<OrgIdentifier>,
    pub request_id: Option<String>,
    /// Multi-user mode: who the request acts as.
    pub act_as: Option<ActAs>,
}

impl Call {
    /// `POST /api/rest/2.0/metadata/search` (v2.0 data endpoint).
    pub fn search(base: &str) -> Self {
        Self {
            method: Method::POST,
            url: format!("{base}/api/rest/2.0/metadata/search"),
            org: None,
            request_id: None,
            act_as: None,
        }
    }

    /// `GET /tspublic/rest/v2/session` (beta data endpoint).
    pub fn beta(base: &str) -> Self {
        Self {
            method: Method::GET,
            url: format!("{base}/tspublic/rest/v2/session"),
            org: None,
            request_id: None,
            act_as: None,
        }
    }

    /// In `org` (an id or a name), by `OrgOverride`.
    pub fn in_org(mut self, org: impl Into<OrgIdentifier>) -> Self {
        self.org = Some(org.into());
        self
    }

    /// `GET` of any `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            url: url.into(),
            org: None,
            request_id: None,
            act_as: None,
        }
    }

    pub fn acting_as(mut self, act_as: ActAs) -> Self {
        self.act_as = Some(act_as);
        self
    }

    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }
}

/// A response: its status, headers and whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a request failed: the crate's error when it is one, else the text of another error (a
/// connection error from the client below the layer).
#[derive(Debug)]
pub struct Failure {
    pub error: Option<Error>,
    pub text: String,
}

impl Failure {
    pub fn kind(&self) -> Option<thoughtspot_auth::ErrorKind> {
        self.error.as_ref().map(Error::kind)
    }
}

impl Client {
    /// A client of `front` over a fresh HTTP client.
    pub fn build(front: Front, builder: AuthBuilder) -> (Self, AuthHandle) {
        match front {
            Front::Tower => Self::tower(builder, super::hyper_client()),
            Front::Reqwest => Self::reqwest(builder, reqwest::Client::new()),
        }
    }

    /// The tower layer over `client`.
    pub fn tower(builder: AuthBuilder, client: HyperClient) -> (Self, AuthHandle) {
        let layer = builder.build().expect("the layer builds");
        let handle = layer.handle();
        let service = tower::Layer::layer(&layer, client);
        (Self::Tower(Box::new(service)), handle)
    }

    /// The reqwest-middleware adapter over `plain` (which logins use too).
    pub fn reqwest(builder: AuthBuilder, plain: reqwest::Client) -> (Self, AuthHandle) {
        let middleware = builder
            .build_middleware(plain.clone())
            .expect("the middleware builds");
        let handle = middleware.handle();
        let client = reqwest_middleware::ClientBuilder::new(plain)
            .with(middleware)
            .build();
        (Self::Reqwest(client), handle)
    }

    /// Sends `call` and reads the whole answer.
    pub async fn send(&self, call: Call) -> Result<Reply, Failure> {
        match self {
            Self::Tower(service) => {
                let mut request = http::Request::builder()
                    .method(call.method)
                    .uri(call.url)
                    .header("content-type", "application/json");
                if let Some(id) = &call.request_id {
                    request = request.header("x-request-id", id.as_str());
                }
                let mut request = request.body(Full::new(Bytes::new())).unwrap();
                if let Some(org) = call.org {
                    request.extensions_mut().insert(OrgOverride::new(org));
                }
                if let Some(act_as) = call.act_as {
                    request.extensions_mut().insert(act_as);
                }
                let response = (**service)
                    .clone()
                    .oneshot(request)
                    .await
                    .map_err(|error| Failure {
                        error: error.downcast_ref::<Error>().cloned(),
                        text: error.to_string(),
                    })?;
                let (parts, body) = response.into_parts();
                let body = body.collect().await.map_err(|error| Failure {
                    error: None,
                    text: format!("reading the body: {error}"),
                })?;
                Ok(Reply {
                    status: parts.status,
                    headers: parts.headers,
                    body: body.to_bytes(),
                })
            }
            Self::Reqwest(client) => {
                let mut request = client
                    .request(call.method, call.url)
                    .header("content-type", "application/json");
                if let Some(id) = &call.request_id {
                    request = request.header("x-request-id", id.as_str());
                }
                if let Some(org) = call.org {
                    request = request.with_extension(OrgOverride::new(org));
                }
                if let Some(act_as) = call.act_as {
                    request = request.with_extension(act_as);
                }
                let response = request.send().await.map_err(|error| match error {
                    reqwest_middleware::Error::Middleware(error) => Failure {
                        error: error.downcast_ref::<Error>().cloned(),
                        text: error.to_string(),
                    },
                    reqwest_middleware::Error::Reqwest(error) => Failure {
                        error: None,
                        text: error.to_string(),
                    },
                })?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await.map_err(|error| Failure {
                    error: None,
                    text: format!("reading the body: {error}"),
                })?;
                Ok(Reply {
                    status,
                    headers,
                    body,
                })
            }
        }
    }

    /// Sends `call`; panics unless an answer came (whatever its status).
    pub async fn status(&self, call: Call) -> StatusCode {
        match self.send(call).await {
            Ok(reply) => reply.status,
            Err(failure) => panic!("the request failed: {failure:?}"),
        }
    }
}

/// One paused-clock test per case and front door: `both_fronts!(case_a, case_b)` for
/// `async fn case_a(front: Front)`, with `Front` in scope where it is called.
#[macro_export]
macro_rules! both_fronts {
    ($($case:ident),* $(,)?) => {
        mod tower_layer {
            $(
                #[tokio::test(start_paused = true)]
                async fn $case() {
                    super::$case(super::Front::Tower).await
                }
            )*
        }
        mod reqwest_middleware_adapter {
            $(
                #[tokio::test(start_paused = true)]
                async fn $case() {
                    super::$case(super::Front::Reqwest).await
                }
            )*
        }
    };
}

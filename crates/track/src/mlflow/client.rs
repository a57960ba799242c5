//! The HTTP transport to an MLflow server: base URL, authentication as MLflow's own clients do
//! it (a bearer token, or a user name and password), timeouts, and MLflow's error bodies
//! turned into [`TrackError::Api`].

use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, TrackError};

/// How long to wait for a connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one API call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Credentials for the tracking server.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer TOKEN` (`MLFLOW_TRACKING_TOKEN`).
    Bearer(String),
    /// HTTP basic authentication (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(…)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, …)"),
        }
    }
}

impl Auth {
    /// Reads credentials from the environment variables MLflow's clients read: a token wins
    /// over a user name and password.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
            return Auth::Bearer(token);
        }
        match (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(username), Some(password)) => Auth::Basic { username, password },
            _ => Auth::None,
        }
    }

    fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
        }
    }
}

/// A connection to one MLflow tracking server.
#[derive(Debug, Clone)]
pub struct MlflowClient {
    base: Url,
    uri: String,
    http: Client,
    auth: Auth,
}

/// MLflow's error body.
#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    message: String,
}

impl MlflowClient {
    /// A client for the server at `tracking_uri` (`http://` or `https://`).
    pub fn new(tracking_uri: &str, auth: Auth) -> Result<Self> {
        let trimmed = tracking_uri.trim_end_matches('/');
        let base = Url::parse(&format!("{trimmed}/")).map_err(|e| {
            TrackError::Invalid(format!("tracking URI `{tracking_uri}` is not a URL: {e}"))
        })?;
        if base.scheme() != "http" && base.scheme() != "https" {
            return Err(TrackError::Invalid(format!(
                "tracking URI `{tracking_uri}` must be an http:// or https:// MLflow server"
            )));
        }
        let http = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| TrackError::Invalid(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            base,
            uri: trimmed.to_string(),
            http,
            auth,
        })
    }

    /// The tracking URI this client talks to.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The URL of a REST API path such as `api/2.0/mlflow/runs/get`.
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        self.base
            .join(path)
            .map_err(|e| TrackError::Invalid(format!("bad API path {path}: {e}")))
    }

    /// The base URL with extra, percent-encoded path segments appended.
    pub(crate) fn url_with_segments<'a>(
        &self,
        prefix: &str,
        segments: impl IntoIterator<Item = &'a str>,
    ) -> Result<Url> {
        let mut url = self.url(prefix)?;
        url.path_segments_mut()
            .map_err(|()| {
                TrackError::Invalid(format!("tracking URI {} cannot take a path", self.uri))
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// A request with authentication applied.
    pub(crate) fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.auth.apply(self.http.request(method, url))
    }

    /// GETs an MLflow endpoint (`experiments/get-by-name`) with query parameters.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        let url = self.url(&format!("api/2.0/mlflow/{endpoint}"))?;
        self.call(endpoint, self.request(Method::GET, url).query(query))
    }

    /// POSTs a JSON body to an MLflow endpoint (`runs/create`).
    pub(crate) fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &B,
    ) -> Result<T> {
        let url = self.url(&format!("api/2.0/mlflow/{endpoint}"))?;
        self.call(endpoint, self.request(Method::POST, url).json(body))
    }

    /// Sends a request and decodes a JSON answer, or MLflow's error.
    pub(crate) fn call<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        request: RequestBuilder,
    ) -> Result<T> {
        let response = self.send(request)?;
        let status = response.status();
        let bytes = response.bytes().map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(api_error(endpoint, status.as_u16(), &bytes));
        }
        let text = if bytes.is_empty() {
            &b"{}"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(text).map_err(|e| TrackError::Api {
            endpoint: endpoint.to_string(),
            status: status.as_u16(),
            error_code: "BAD_RESPONSE".to_string(),
            message: format!("the answer is not what MLflow sends: {e}"),
        })
    }

    /// Sends a request, mapping transport failures to [`TrackError::Unreachable`].
    pub(crate) fn send(&self, request: RequestBuilder) -> Result<Response> {
        request.send().map_err(|e| self.unreachable(&e))
    }

    /// [`send`](Self::send), and MLflow's error for an answer that is not a success (whose
    /// body is not JSON to decode: an artifact's bytes).
    pub(crate) fn send_ok(&self, endpoint: &str, request: RequestBuilder) -> Result<Response> {
        let response = self.send(request)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().unwrap_or_default();
            return Err(api_error(endpoint, status.as_u16(), &body));
        }
        Ok(response)
    }

    fn unreachable(&self, e: &reqwest::Error) -> TrackError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        TrackError::Unreachable {
            uri: self.uri.clone(),
            message,
        }
    }
}

/// Turns a failed answer into [`TrackError::Api`], with MLflow's `error_code` and message when
/// the body has them.
pub(crate) fn api_error(endpoint: &str, status: u16, body: &[u8]) -> TrackError {
    let (error_code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) if !b.error_code.is_empty() || !b.message.is_empty() => (b.error_code, b.message),
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(500).collect();
            ("HTTP_ERROR".to_string(), text)
        }
    };
    TrackError::Api {
        endpoint: endpoint.to_string(),
        status,
        error_code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_http_uris() {
        assert!(MlflowClient::new("file:///tmp/mlruns", Auth::None).is_err());
        assert!(MlflowClient::new("not a url", Auth::None).is_err());
        let client = MlflowClient::new("http://127.0.0.1:5000/prefix/", Auth::None).unwrap();
        assert_eq!(client.uri(), "http://127.0.0.1:5000/prefix");
        assert_eq!(
            client.url("api/2.0/mlflow/runs/get").unwrap().as_str(),
            "http://127.0.0.1:5000/prefix/api/2.0/mlflow/runs/get"
        );
        let url = client
            .url_with_segments("api/2.0/mlflow-artifacts/artifacts/", ["1", "a b", "c#d"])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:5000/prefix/api/2.0/mlflow-artifacts/artifacts/1/a%20b/c%23d"
        );
    }

    #[test]
    fn api_errors_carry_mlflow_code_and_message() {
        let err = api_error(
            "runs/get",
            404,
            br#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run 'x' not found"}"#,
        );
        assert_eq!(
            err.to_string(),
            "MLflow runs/get failed with HTTP 404: RESOURCE_DOES_NOT_EXIST: Run 'x' not found"
        );
        assert!(!err.is_transient());
        let err = api_error("runs/get", 503, b"<html>busy</html>");
        assert!(err.to_string().contains("HTTP_ERROR: <html>busy</html>"));
        assert!(err.is_transient());
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let auth = Auth::Basic {
            username: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{auth:?}").contains("secret"));
        assert!(!format!("{:?}", Auth::Bearer("tok".into())).contains("tok"));
    }
}

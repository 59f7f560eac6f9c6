//! A spy under the layer: every credential value a request carries (whole `Authorization` and
//! `Cookie` headers and their long parts), for the list of secrets no log may contain.

use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Spy(Arc<Mutex<Vec<String>>>);

impl Spy {
    pub fn note(&self, headers: &http::HeaderMap) {
        for name in [http::header::AUTHORIZATION, http::header::COOKIE] {
            for value in headers.get_all(&name) {
                let value = value.to_str().unwrap().to_owned();
                let mut seen = self.0.lock().unwrap();
                seen.extend(
                    value
                        .split(&[' ', ';', '='][..])
                        .filter(|p| p.len() > 12)
                        .map(str::to_owned),
                );
                seen.push(value);
            }
        }
    }

    pub fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Spy {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.note(request.headers());
        next.run(request, extensions).await
    }
}

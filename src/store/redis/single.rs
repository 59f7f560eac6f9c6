//! One Redis (or Valkey) server: a connection manager, made on first use, that reconnects by
//! itself.

use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, FromRedisValue, RedisResult};

use super::scripts::Call;

/// The connection to one server.
pub(super) struct Single {
    client: Client,
    manager: OnceLock<ConnectionManager>,
}

impl Single {
    pub(super) fn new(client: Client) -> Self {
        Self {
            client,
            manager: OnceLock::new(),
        }
    }

    /// The connection, made on first use (it needs a tokio runtime); it reconnects by itself.
    fn connection(&self) -> RedisResult<ConnectionManager> {
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        Ok(self.manager.get_or_init(|| manager).clone())
    }

    /// Sends `call`, and once more if the connection broke: the connection manager reconnects
    /// after a broken connection, but only when the next call comes, which it fails. Without
    /// the second try, every replica would spend its first call after a Redis restart finding
    /// that out, and log in alone.
    pub(super) async fn send<T: FromRedisValue>(&self, call: &Call<'_>) -> RedisResult<T> {
        let mut connection = self.connection()?;
        match call.send(&mut connection).await {
            Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() => {
                call.send(&mut connection).await
            }
            other => other,
        }
    }
}

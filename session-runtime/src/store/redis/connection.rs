//! The connection: one server (a reconnecting [`ConnectionManager`]) or a
//! Cluster, behind one face, and every command run within the command
//! timeout.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, RedisResult, ScriptInvocation, Value};

use super::RedisStore;
use crate::store::{StoreError, StoreErrorKind};

/// One connection to a server, or to a Cluster, behind one face.
#[derive(Clone)]
pub(super) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

pub(super) struct Inner {
    pub(super) connection: Connection,
    pub(super) prefix: Box<str>,
    pub(super) command_timeout: Duration,
    pub(super) connect_timeout: Duration,
}

impl RedisStore {
    /// Runs one operation on a fresh handle of the connection, within the
    /// command timeout.
    pub(super) async fn run<T, F, Fut>(&self, context: &'static str, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.inner.connection.clone();
        match tokio::time::timeout(self.inner.command_timeout, op(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(connection_error(context, err)),
            Err(elapsed) => Err(StoreError::timeout(
                "Redis did not answer within the command timeout",
                elapsed,
            )),
        }
    }

    /// Runs one script call within the command timeout, as [`run`](Self::run)
    /// runs any operation.
    pub(super) async fn invoke<T: FromRedisValue>(
        &self,
        context: &'static str,
        invocation: ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.run(context, |mut conn| async move {
            invocation.invoke_async(&mut conn).await
        })
        .await
    }
}

/// A Redis error as a [`StoreError`] of the kind it is: a dropped or refused
/// connection is `Unavailable`, a timeout `Timeout`, a reply the client could
/// not read `Corrupt`, a `BUSY`/`TRYAGAIN`-style refusal `Conflict`.
pub(super) fn connection_error(context: &'static str, err: redis::RedisError) -> StoreError {
    let kind = if err.is_timeout() {
        StoreErrorKind::Timeout
    } else if err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_unrecoverable_error()
    {
        StoreErrorKind::Unavailable
    } else {
        match err.kind() {
            redis::ErrorKind::TypeError | redis::ErrorKind::ParseError => StoreErrorKind::Corrupt,
            redis::ErrorKind::BusyLoadingError
            | redis::ErrorKind::TryAgain
            | redis::ErrorKind::ClusterDown
            | redis::ErrorKind::MasterDown => StoreErrorKind::Unavailable,
            redis::ErrorKind::CrossSlot => StoreErrorKind::Config,
            _ => StoreErrorKind::Other,
        }
    };
    StoreError::new(context, err).with_kind(kind)
}

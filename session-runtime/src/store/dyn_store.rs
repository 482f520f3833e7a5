//! An object-safe face of [`SessionStore`], so the layer and the extractors
//! need not be generic over the store.

use std::future::Future;
use std::pin::Pin;

use time::OffsetDateTime;

use super::{ChangeSet, CookiePayload, Record, SessionKey, SessionStore, StoreError, WriteOutcome};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(crate) trait DynStore: Send + Sync + std::fmt::Debug + 'static {
    fn load<'a>(&'a self, key: &'a SessionKey)
        -> BoxFuture<'a, Result<Option<Record>, StoreError>>;
    fn create<'a>(
        &'a self,
        key: &'a SessionKey,
        changes: &'a ChangeSet,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>>;
    fn save<'a>(
        &'a self,
        key: &'a SessionKey,
        changes: &'a ChangeSet,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>>;
    fn touch<'a>(
        &'a self,
        key: &'a SessionKey,
        expires_at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>>;
    fn regenerate<'a>(
        &'a self,
        old: &'a SessionKey,
        new: &'a SessionKey,
        changes: &'a ChangeSet,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>>;
    fn delete<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<(), StoreError>>;
    fn user_sessions<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(SessionKey, Record)>, StoreError>>;
    fn delete_user_sessions<'a>(
        &'a self,
        user: &'a str,
        keep: Option<&'a SessionKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn cookie_payload(&self) -> Option<CookiePayload>;
}

impl<S: SessionStore> DynStore for S {
    fn load<'a>(
        &'a self,
        key: &'a SessionKey,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(SessionStore::load(self, key))
    }

    fn create<'a>(
        &'a self,
        key: &'a SessionKey,
        changes: &'a ChangeSet,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(SessionStore::create(self, key, changes))
    }

    fn save<'a>(
        &'a self,
        key: &'a SessionKey,
        changes: &'a ChangeSet,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(SessionStore::save(self, key, changes))
    }

    fn touch<'a>(
        &'a self,
        key: &'a SessionKey,
        expires_at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(SessionStore::touch(self, key, expires_at))
    }

    fn regenerate<'a>(
        &'a self,
        old: &'a SessionKey,
        new: &'a SessionKey,
        changes: &'a ChangeSet,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(SessionStore::regenerate(self, old, new, changes))
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::delete(self, key))
    }

    fn user_sessions<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(SessionKey, Record)>, StoreError>> {
        Box::pin(SessionStore::user_sessions(self, user))
    }

    fn delete_user_sessions<'a>(
        &'a self,
        user: &'a str,
        keep: Option<&'a SessionKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(SessionStore::delete_user_sessions(self, user, keep))
    }

    fn cookie_payload(&self) -> Option<CookiePayload> {
        SessionStore::cookie_payload(self)
    }
}

//! The store conformance suite, on `MemoryStore`.

use session_runtime::store::MemoryStore;

async fn make_store() -> Option<MemoryStore> {
    Some(MemoryStore::new())
}

session_runtime::store_conformance_tests!(make_store);

/// The same suite on a store so small it evicts: the rules hold all the same
/// while it has room.
mod bounded {
    use session_runtime::store::MemoryStore;

    async fn make_store() -> Option<MemoryStore> {
        Some(MemoryStore::with_capacity(64 * 64))
    }

    session_runtime::store_conformance_tests!(make_store);
}

/// The per-user index suite: `MemoryStore` has the ability.
mod user_index {
    use session_runtime::store::MemoryStore;

    async fn make_store() -> Option<MemoryStore> {
        Some(MemoryStore::new())
    }

    session_runtime::user_index_conformance_tests!(make_store);
}

/// The HTTP suite: every case, on `MemoryStore`.
mod http {
    use session_runtime::store::MemoryStore;

    async fn make_store() -> Option<MemoryStore> {
        Some(MemoryStore::new())
    }

    session_runtime::store_http_tests!(make_store);
}

//! The store-generic HTTP suite (`store_http_tests!`: SPEC's semantics, the
//! lifecycle, expiry, counters, the three races, the outage contract) on
//! each SQL store, every case, none skipped.
//!
//! Servers as in `sql_common`; each store's part runs when its feature is
//! on, in a schema, table or file of its own, removed after.

#[cfg(feature = "postgres")]
mod postgres {
    use crate::sql_common::{self, pg::Pg};

    session_runtime::store_http_tests!(
        sql_common::make::<Pg>,
        teardown = sql_common::drop_store::<Pg>
    );
}

#[cfg(feature = "mysql")]
mod mysql {
    use crate::sql_common::{self, my::My};

    session_runtime::store_http_tests!(
        sql_common::make::<My>,
        teardown = sql_common::drop_store::<My>
    );
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use crate::sql_common::{self, lite::Lite};

    session_runtime::store_http_tests!(
        sql_common::make::<Lite>,
        teardown = sql_common::drop_store::<Lite>
    );
}

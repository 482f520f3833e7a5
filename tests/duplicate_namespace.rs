//! Two derived structs with one namespace in one program are refused when the
//! layer is built: sharing would be silent corruption.

use session_kit::{ConfigError, Key, MemoryStore, Session, SessionLayer};

mod billing {
    #[derive(session_kit::Session, Default)]
    #[session(namespace = "cart")]
    pub(crate) struct Cart {
        pub(crate) total: u64,
    }
}

#[derive(Session, Default)]
struct Cart {
    items: Vec<String>,
}

#[test]
fn two_structs_with_one_namespace_fail_at_start_up() {
    let _ = (Cart::default().items, billing::Cart::default().total);
    let err = SessionLayer::builder(MemoryStore::new(), Key::generate())
        .build()
        .expect_err("the clash is found");
    match &err {
        ConfigError::DuplicateNamespace { namespace, .. } => assert_eq!(*namespace, "cart"),
        other => panic!("unexpected error: {other}"),
    }
    let message = err.to_string();
    assert!(message.contains("duplicate_namespace::Cart"), "{message}");
    assert!(
        message.contains("duplicate_namespace::billing::Cart"),
        "{message}"
    );
    assert!(message.contains("#[session(namespace"), "{message}");
}

#[test]
#[should_panic(expected = "invalid session configuration")]
fn session_layer_new_panics_at_start_up_on_the_clash() {
    let _ = SessionLayer::new(MemoryStore::new(), Key::generate());
}

#[test]
fn session_layer_new_panics_at_the_callers_line() {
    use std::sync::{Arc, Mutex};
    let location: Arc<Mutex<Option<(String, u32)>>> = Arc::default();
    let seen = location.clone();
    let this_test = std::thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Other tests run (and panic) on other threads at the same time.
        if std::thread::current().id() != this_test {
            return;
        }
        if let Some(at) = info.location() {
            *seen.lock().unwrap() = Some((at.file().to_owned(), at.line()));
        }
    }));
    let new = || SessionLayer::new(MemoryStore::new(), Key::generate());
    let line = line!() - 1;
    let result = std::panic::catch_unwind(new);
    std::panic::set_hook(previous);
    assert!(result.is_err(), "the clash panics");
    let (file, at) = location.lock().unwrap().clone().expect("a panic location");
    assert!(file.ends_with("duplicate_namespace.rs"), "{file}");
    assert_eq!(at, line, "the panic points at the call, not at the library");
}

// The cases of `tests.rs`, included once per way the layer calls the store.

#[tokio::test]
async fn keep_with_nothing_changed_writes_nothing_and_sets_no_cookie() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
    let record = h.store.load(&id.key()).await.unwrap().unwrap();
    assert_eq!(record.get("a.x"), Some("1"));
}

#[tokio::test]
async fn keep_writes_the_changed_field_to_the_same_session() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    stage(&session, "a.y", "2");
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
    let record = h.store.load(&id.key()).await.unwrap().unwrap();
    assert_eq!(
        (record.get("a.x"), record.get("a.y")),
        (Some("1"), Some("2"))
    );
}

#[tokio::test]
async fn a_5xx_response_saves_nothing() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    stage(&session, "a.y", "2");
    assert!(set_cookies(&finish(&session, 503).await).is_empty());
    let record = h.store.load(&id.key()).await.unwrap().unwrap();
    assert_eq!(record.get("a.y"), None);
}

#[tokio::test]
async fn create_stores_a_new_session_only_when_it_got_data() {
    let h = harness();
    let empty = h.request(&HeaderMap::new()).await;
    assert!(set_cookies(&finish(&empty, 200).await).is_empty());
    assert_eq!(h.store.len(), 0);

    let session = h.request(&HeaderMap::new()).await;
    stage(&session, "a.x", "7");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert_eq!(h.store.len(), 1);
}

#[tokio::test]
async fn destroy_deletes_the_session_and_removes_the_cookie() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.destroy();
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=0"), "{}", cookies[0]);
    assert!(h.store.load(&id.key()).await.unwrap().is_none());
}

#[tokio::test]
async fn destroy_without_a_session_or_a_cookie_does_nothing() {
    let h = harness();
    let session = h.request(&HeaderMap::new()).await;
    session.destroy();
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
}

#[tokio::test]
async fn regenerate_moves_the_data_to_a_new_id_and_kills_the_old_one() {
    let h = harness();
    let (old, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.regenerate();
    stage(&session, "a.user", "\"ada\"");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(h.store.load(&old.key()).await.unwrap().is_none());
    assert_eq!(h.store.len(), 1);
}

#[tokio::test]
async fn regenerate_of_a_session_that_ended_meanwhile_starts_afresh_without_the_old_data() {
    let h = harness();
    let (old, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    h.store.delete(&old.key()).await.unwrap();
    session.regenerate();
    stage(&session, "a.user", "\"ada\"");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert_eq!(h.store.len(), 1);
}

#[tokio::test]
async fn a_save_after_the_session_ended_is_dropped_and_sets_no_cookie() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    h.store.delete(&id.key()).await.unwrap();
    stage(&session, "a.y", "2");
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
    assert_eq!(h.store.len(), 0, "the ended session is not revived");
}

fn stage_removal(session: &RequestSession, key: &'static str) {
    let mut state = session.state();
    state.changes.push_remove(key.into());
    state.record = crate::store::Record::new(Vec::new(), state.record.expires_at());
}

#[tokio::test]
async fn a_dead_cookie_is_cleared_on_the_next_request() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    h.store.delete(&id.key()).await.unwrap();
    let session = h.request(&cookie).await;
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].contains("Max-Age=0"), "{}", cookies[0]);
}

#[tokio::test]
async fn repeated_cookies_are_refused_and_not_cleared() {
    let h = harness();
    let (_, cookie) = h.stored().await;
    let pair = cookie.get(http::header::COOKIE).unwrap().to_str().unwrap();
    let mut twice = HeaderMap::new();
    twice.insert(
        http::header::COOKIE,
        HeaderValue::from_str(&format!("{pair}; {pair}")).unwrap(),
    );
    let session = h.request(&twice).await;
    assert_eq!(session.id(), None, "a repeated cookie gives no session");
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
}

#[tokio::test]
async fn a_session_emptied_of_every_field_is_deleted_and_its_cookie_removed() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    stage_removal(&session, "a.x");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=0"), "{}", cookies[0]);
    assert!(h.store.load(&id.key()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_logout_is_carried_out_on_a_5xx_response() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    stage(&session, "a.y", "2");
    session.destroy();
    let cookies = set_cookies(&finish(&session, 500).await);
    assert_eq!(cookies.len(), 1);
    assert!(h.store.load(&id.key()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_logout_whose_request_is_dropped_before_its_save_is_still_carried_out() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.destroy();
    drop(session);
    // The delete runs in a task of its own.
    for _ in 0..100 {
        if h.store.load(&id.key()).await.unwrap().is_none() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the dropped logout did not delete the session");
}

#[tokio::test]
async fn a_response_that_sets_the_cookie_is_kept_out_of_shared_caches() {
    let h = harness();
    let session = h.request(&HeaderMap::new()).await;
    stage(&session, "a.x", "7");
    let headers = finish(&session, 200).await;
    assert_eq!(
        headers.get(http::header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    assert_eq!(headers.get(http::header::VARY).unwrap(), "Cookie");

    let session = h.request(&HeaderMap::new()).await;
    stage(&session, "a.x", "8");
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60, s-maxage=600"),
    );
    headers.insert(
        http::header::VARY,
        HeaderValue::from_static("Accept-Encoding"),
    );
    session.finish(StatusCode::OK, &mut headers).await.unwrap();
    assert_eq!(
        headers.get(http::header::CACHE_CONTROL).unwrap(),
        "private, max-age=60"
    );
    let vary: Vec<_> = headers.get_all(http::header::VARY).iter().collect();
    assert_eq!(vary, ["Accept-Encoding", "Cookie"]);
}

#[tokio::test]
async fn a_read_only_response_varies_on_the_cookie_and_keeps_its_cache_control() {
    let h = harness();
    let (_, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=5"),
    );
    session.finish(StatusCode::OK, &mut headers).await.unwrap();
    assert_eq!(
        headers.get(http::header::CACHE_CONTROL).unwrap(),
        "max-age=5"
    );
    assert_eq!(headers.get(http::header::VARY).unwrap(), "Cookie");
}

#[tokio::test]
async fn start_fresh_ends_the_old_session_and_keeps_only_this_requests_data() {
    let h = harness();
    let (old, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.start_fresh();
    stage(&session, "a.user", "\"ada\"");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(
        !cookies[0].contains("Max-Age=0"),
        "a new cookie: {}",
        cookies[0]
    );
    assert!(
        h.store.load(&old.key()).await.unwrap().is_none(),
        "the old ID is dead"
    );
    assert_eq!(h.store.len(), 1);
    let pair = cookies[0].split(';').next().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(http::header::COOKIE, HeaderValue::from_str(pair).unwrap());
    let next = h.request(&headers).await;
    let state = next.state();
    assert_eq!(state.record.get("a.user"), Some("\"ada\""));
    assert_eq!(state.record.get("a.x"), None, "nothing from before login");
}

#[tokio::test]
async fn start_fresh_without_new_data_removes_the_cookie() {
    let h = harness();
    let (old, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.start_fresh();
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=0"), "{}", cookies[0]);
    assert!(h.store.load(&old.key()).await.unwrap().is_none());
}

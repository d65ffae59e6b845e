//! Browser sessions against the real service on both backends: the one-time password must
//! be changed first, the session cookie calls the JSON API with the same permission check
//! as a token, state changes without the CSRF token are refused, logout ends the session,
//! repeated wrong passwords lock the account, and every step is in the audit log.

mod common;

use common::web::{Browser, hidden};
use common::{TestApp, TestDb};
use pvledger::auth::accounts::add_user;

async fn audit_actions(db: &TestDb) -> Vec<String> {
    db.store
        .audit_recent(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.subject))
        .collect()
}

async fn a_session_needs_a_new_password_first_then_shares_the_api_check_and_csrf(db: TestDb) {
    // Arrange
    let app = TestApp::spawn(&db).await;
    let one_time = add_user(&db.store, "cw-li", "finance", None, "test")
        .await
        .unwrap();
    let mut b = Browser::new(&app.base);

    // Act: log in with the printed password.
    let login = b.login("cw-li", &one_time).await;
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.location.as_deref(), Some("/password"));
    let cookie = b
        .cookies
        .get("pvl_session")
        .cloned()
        .expect("a session cookie");

    // Assert: nothing but the password change until it is done.
    assert_eq!(
        b.get("/settlements").await.location.as_deref(),
        Some("/password")
    );
    let api = b.get("/api/v1/stations").await;
    assert_eq!(api.status, 403, "{}", api.body);
    assert!(api.body.contains("password_change_required"));

    let page = b.get("/password").await;
    assert!(page.body.contains("一次性密码"), "Chinese first");
    let csrf = hidden(&page.body, "csrf").unwrap();
    let weak = b
        .post_form(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", &one_time),
                ("new", "short"),
                ("repeat", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("至少 10 个字符"));
    let changed = b
        .post_form(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", &one_time),
                ("new", "财务室-2026-光伏"),
                ("repeat", "财务室-2026-光伏"),
            ],
        )
        .await;
    assert_eq!(changed.location.as_deref(), Some("/"), "{}", changed.body);

    // The session now reads the API like a token of the same role would.
    assert_eq!(b.get("/api/v1/settlements").await.status, 200);
    let settlements = b.get("/settlements").await;
    assert_eq!(settlements.status, 200);
    assert!(settlements.body.contains("月度收益结算"));

    // A state change without the CSRF token is refused, with it the role check decides.
    let no_token = b
        .post_json("/api/v1/settlements", r#"{"period":"2026-10"}"#, None)
        .await;
    assert_eq!(no_token.status, 403);
    assert!(no_token.body.contains("\"csrf\""), "{}", no_token.body);
    let wrong = b
        .post_json(
            "/api/v1/settlements",
            r#"{"period":"2026-10"}"#,
            Some("forged"),
        )
        .await;
    assert_eq!(wrong.status, 403);
    let with_token = b
        .post_json("/api/v1/settlements", r#"{"period":"bad"}"#, Some(&csrf))
        .await;
    assert_eq!(
        with_token.status, 400,
        "passes CSRF and the role check, then the period is bad"
    );
    let form_without = b.post_form("/settlements", &[("period", "2026-10")]).await;
    assert_eq!(form_without.status, 403);

    // Logout ends the session for good, even if the cookie is replayed.
    let out = b.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.location.as_deref(), Some("/login"));
    b.cookies.insert("pvl_session".into(), cookie);
    assert_eq!(b.get("/api/v1/settlements").await.status, 401);
    assert_eq!(b.get("/settlements").await.status, 303);

    let actions = audit_actions(&db).await;
    for a in ["login cw-li", "password.change cw-li", "logout cw-li"] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
}

async fn repeated_wrong_passwords_lock_the_account_and_are_audited(db: TestDb) {
    // Arrange: lock after 3 failures.
    let app = TestApp::spawn_with(&db, |c| c.http.login_max_failures = 3).await;
    let password = add_user(&db.store, "tech-wang", "technician", None, "test")
        .await
        .unwrap();
    let mut b = Browser::new(&app.base);

    // Act
    let first = b.login("tech-wang", "wrong-1").await;
    let second = b.login("tech-wang", "wrong-2").await;
    let third = b.login("tech-wang", "wrong-3").await;
    let right_but_locked = b.login("tech-wang", &password).await;

    // Assert
    assert_eq!(first.status, 401);
    assert!(first.body.contains("用户名或密码错误"));
    assert_eq!(second.status, 401);
    assert_eq!(third.status, 423, "{}", third.body);
    assert!(third.body.contains("已锁定"));
    assert_eq!(right_but_locked.status, 423);
    assert!(!b.cookies.contains_key("pvl_session"));
    let actions = audit_actions(&db).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "login.failed tech-wang")
            .count(),
        3
    );
    assert!(actions.iter().any(|a| a == "user.locked tech-wang"));
    assert!(actions.iter().any(|a| a == "login.refused tech-wang"));
    // An unknown user reads exactly like a wrong password.
    let unknown = b.login("nobody", "x").await;
    assert_eq!(unknown.status, 401);
    assert!(unknown.body.contains("用户名或密码错误"));
}

async fn a_login_form_posted_without_its_cookie_token_is_refused(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let password = add_user(&db.store, "bureau-zhao", "bureau", None, "test")
        .await
        .unwrap();
    let mut b = Browser::new(&app.base);
    let forged = b
        .post_form(
            "/login",
            &[
                ("name", "bureau-zhao"),
                ("password", &password),
                ("csrf", "made-up"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(!b.cookies.contains_key("pvl_session"));
}

async fn the_per_address_login_limit_stops_guessing_across_names(db: TestDb) {
    let app = TestApp::spawn_with(&db, |c| c.http.login_attempts_per_minute = 2).await;
    let mut b = Browser::new(&app.base);
    assert_eq!(b.login("a", "x").await.status, 401);
    assert_eq!(b.login("b", "x").await.status, 401);
    let third = b.login("c", "x").await;
    assert_eq!(third.status, 429);
    assert!(third.body.contains("尝试次数过多"));
    assert!(
        audit_actions(&db)
            .await
            .iter()
            .any(|a| a == "login.rate_limited c")
    );
}

both_backends!(
    a_session_needs_a_new_password_first_then_shares_the_api_check_and_csrf,
    repeated_wrong_passwords_lock_the_account_and_are_audited,
    a_login_form_posted_without_its_cookie_token_is_refused,
    the_per_address_login_limit_stops_guessing_across_names
);

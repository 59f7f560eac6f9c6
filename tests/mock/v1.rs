//! The v1 API (`/callosum/v1/...`): form-encoded login, org switch, `isactive`.

use thoughtspot_auth::mock::DEFAULT_USER;

use crate::harness::{Expect, Harness, Req, SESSION_USER, V1_ISACTIVE, V1_LOGIN, V1_ORGS};

#[tokio::test]
async fn v1_login_org_switch_and_isactive() {
    let h = Harness::new().await;
    h.check([
        (
            // X-Requested-By is required.
            "login without X-Requested-By",
            Req::post(V1_LOGIN)
                .bare()
                .form("username=tsadmin&password=mock-admin-password"),
            Expect::v1(400),
        ),
        (
            "wrong password",
            Req::post(V1_LOGIN).form("username=tsadmin&password=nope"),
            Expect::v1(401).strings(&["debug", "incident_id_guid"]),
        ),
    ])
    .await;

    let ok = h
        .request(
            Req::post(V1_LOGIN)
                .form("username=tsadmin&password=mock-admin-password&rememberme=true"),
        )
        .await;
    assert_eq!(ok.status, 204);
    let cookie = ok.cookie_header();
    h.check([
        (
            "isactive with the session",
            Req::get(V1_ISACTIVE).cookie(&cookie),
            Expect::v1(200),
        ),
        ("isactive without", Req::get(V1_ISACTIVE), Expect::v1(401)),
        (
            "switch to org 2",
            Req::put(V1_ORGS).cookie(&cookie).form("orgid=2"),
            Expect::v1(204),
        ),
    ])
    .await;
    assert_eq!(
        h.get_with_cookie(SESSION_USER, &cookie).await.json()["current_org"]["id"],
        2
    );
    h.check([
        (
            "switch to an unknown org",
            Req::put(V1_ORGS).cookie(&cookie).form("orgid=7"),
            Expect::v1(403),
        ),
        (
            "switch without a session",
            Req::put(V1_ORGS).form("orgid=1"),
            Expect::v1(401),
        ),
    ])
    .await;

    // A later login without an org lands in the last-used org.
    let token = h.admin_token().await;
    assert_eq!(h.mock.token_owner(&token), Some((DEFAULT_USER.into(), 2)));
    h.check([
        (
            "isactive with a token",
            Req::get(V1_ISACTIVE).bearer(&token),
            Expect::v1(200),
        ),
        (
            "unknown v1 path",
            Req::get("/callosum/v1/unknown"),
            Expect::v1(404),
        ),
    ])
    .await;
}

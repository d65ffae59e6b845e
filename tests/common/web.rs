//! A browser-like HTTP client for the pages: no redirects followed, cookies kept by hand
//! (reqwest's cookie store is not enabled), CSRF tokens read from the forms.
#![allow(dead_code)]

use std::collections::BTreeMap;

/// One browser: its cookies and the service's base URL.
pub struct Browser {
    pub base: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

/// A page answer: status, Location header, body.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Browser {
            base: base.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Answer {
        for v in r.headers().get_all(reqwest::header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        Answer {
            status,
            location,
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// A JSON POST with the session cookie and, when given, the X-CSRF-Token header.
    pub async fn post_json(&mut self, path: &str, body: &str, csrf: Option<&str>) -> Answer {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        let r = req.send().await.unwrap();
        self.finish(r).await
    }

    /// Logs in through the login form; returns the answer to the POST.
    pub async fn login(&mut self, name: &str, password: &str) -> Answer {
        let form = self.get("/login").await;
        let token = hidden(&form.body, "csrf").expect("the login form has a token");
        self.post_form(
            "/login",
            &[
                ("name", name),
                ("password", password),
                ("csrf", &token),
                ("next", "/"),
            ],
        )
        .await
    }
}

/// The value of the hidden input `name` in a page.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_owned())
}

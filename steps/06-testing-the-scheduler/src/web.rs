//! The framework's web page, served by every instance.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page: who leads, the framework, its tasks, the form |
//! | `POST /` | the form: a new number of tasks to run |
//! | `GET /style.css` | the page's stylesheet, served from here: the room's Wi-Fi is bad, nothing comes from the internet |
//! | `GET /api/state` | what the page shows, as JSON |
//! | `POST /api/instances` | a new count as JSON, `{"instances": 3}`: how a standby hands a form to the leader |
//! | `GET /health` | `200` and the role; `503` while the instance cannot know whether it leads |
//!
//! Only the leader can change the count: it stores it in ZooKeeper
//! (fenced, as every write) and its scheduler acts on it. A standby checks
//! the form as the leader would, then hands it to the leader, server to
//! server, and sends the browser to the leader's page. (Redirecting the
//! browser's POST to the leader instead would not do: the leader's check
//! against forged forms, below, would refuse it.)
//!
//! # Forged forms
//!
//! Any web page the browser visits could hold a form that posts here: a
//! *cross-site request forgery*. So the form carries a token, random for
//! each instance and written into the page it serves; a page from
//! elsewhere cannot read it, so its forms lack it, and are refused. The
//! JSON endpoint needs no token: a browser sends JSON to another site only
//! after asking the site's permission (CORS), which this server never
//! gives. And the server listens on 127.0.0.1 unless told otherwise.
//!
//! A second line of defence costs one comparison: a browser names the
//! page a POST comes from in its `Origin` header, and a forged form's
//! page is another site. A POST whose `Origin` is not this page's own is
//! refused before its fields are read (a request without `Origin` comes
//! from a program, not a page: the standby's hand-over, `curl`).
//!
//! # Who may look
//!
//! Bound to another address than 127.0.0.1, the page can be guarded with
//! HTTP basic authentication (`--web-credential`): every route asks for
//! the principal and secret but `/health`, which a load balancer must
//! reach and which tells nothing. The instances share the credential, and
//! a standby sends it along when it hands a form to the leader.

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use askama::Template;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use mesos::{
    Credentials,
    leader::{Participant, Role},
};
use serde::{Deserialize, Serialize};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot, watch},
};

use crate::{
    form::{Form, parse_count},
    view::Leading,
};

/// The largest request body we read: a form holds two short fields.
const MAX_BODY: usize = 16 * 1024;

/// The stylesheet, compiled in.
const STYLE: &str = include_str!("../static/style.css");

/// A new count from the page, for the leader's term to apply and store.
/// The reply says whether it was stored, or why not.
pub struct SetInstances {
    pub count: usize,
    pub reply: oneshot::Sender<Result<(), String>>,
}

/// What the web server needs to know.
pub struct WebConfig {
    /// The framework's name.
    pub name: String,
    /// How others reach this instance (`--web-url`).
    pub url: String,
    /// The most tasks the form accepts (`--max-instances`).
    pub max_instances: usize,
    /// The master, as given by `--master`.
    pub master: String,
    /// Who may use the page (`--web-credential`); anyone if `None`.
    pub guard: Option<Credentials>,
}

/// Everything a request handler reads. Cheap to clone.
#[derive(Clone)]
pub struct Web {
    config: Arc<WebConfig>,
    /// The token that proves a form came from our own page.
    csrf: Arc<str>,
    /// What the leader's term publishes; `None` while we do not lead.
    leading: watch::Receiver<Option<Leading>>,
    /// The election, if there is one: our role, and who leads.
    roles: Option<watch::Receiver<Role>>,
    leaders: Option<watch::Receiver<Option<Participant>>>,
    /// To the leader's term.
    commands: mpsc::Sender<SetInstances>,
}

impl Web {
    pub fn new(
        config: WebConfig,
        leading: watch::Receiver<Option<Leading>>,
        election: Option<(watch::Receiver<Role>, watch::Receiver<Option<Participant>>)>,
        commands: mpsc::Sender<SetInstances>,
    ) -> Web {
        let (roles, leaders) = election.unzip();
        Web {
            config: Arc::new(config),
            csrf: uuid::Uuid::new_v4().simple().to_string().into(),
            leading,
            roles,
            leaders,
            commands,
        }
    }

    /// Serves until the process ends: one task per connection.
    pub async fn serve(self, listener: TcpListener) {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a web connection failed");
                    continue;
                }
            };
            let web = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let web = web.clone();
                    async move { Ok::<_, Infallible>(web.handle(request).await) }
                });
                let connection =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "web connection ended with an error");
                }
            });
        }
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let method = request.method().clone();
        if let Some(guard) = &self.config.guard
            && path != "/health"
            && !guard.authorizes(request.headers().get(header::AUTHORIZATION))
        {
            let mut response = text(StatusCode::UNAUTHORIZED, "this page needs a password");
            let challenge = format!("Basic realm=\"{}\"", self.config.name.replace('"', "'"));
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            return response;
        }
        if method == Method::POST && self.cross_origin(&request) {
            return text(
                StatusCode::FORBIDDEN,
                "refused: this request comes from a page of another site",
            );
        }
        match (method, path.as_str()) {
            (Method::GET, "/") => {
                let notice = notice(request.uri().query());
                let value = self
                    .current_count()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                self.page(StatusCode::OK, value, None, notice)
            }
            (Method::POST, "/") => self.post_form(request).await,
            (Method::GET, "/style.css") => {
                let mut response = text(StatusCode::OK, STYLE);
                set(
                    &mut response,
                    header::CONTENT_TYPE,
                    "text/css; charset=utf-8",
                );
                response
            }
            (Method::GET, "/api/state") => json(StatusCode::OK, &self.state()),
            (Method::POST, "/api/instances") => self.post_api(request).await,
            (Method::GET, "/health") => {
                let role = self.role();
                let status = match role {
                    "leader" | "standby" => StatusCode::OK,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                };
                text(status, role)
            }
            (_, "/" | "/style.css" | "/api/state" | "/api/instances" | "/health") => {
                text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            }
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    /// Whether a browser sent this request from a page of another site:
    /// its `Origin` is neither the address the request was sent to nor
    /// this instance's `--web-url`. (`Origin: null`, from a sandboxed or
    /// local page, is another site too.)
    fn cross_origin(&self, request: &Request<Incoming>) -> bool {
        let Some(origin) = request.headers().get(header::ORIGIN) else {
            return false;
        };
        let origin = origin.to_str().unwrap_or("null");
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(|host| format!("http://{host}"));
        origin != self.config.url && Some(origin) != host.as_deref()
    }

    /// `leader`, `standby`, `suspended` (ZooKeeper disconnected) or
    /// `joining`. Without an election, this instance leads alone.
    fn role(&self) -> &'static str {
        match self.roles.as_ref().map(|roles| roles.borrow().clone()) {
            None | Some(Role::Leader { .. }) => "leader",
            Some(Role::Standby { .. }) => "standby",
            Some(Role::Suspended) => "suspended",
            Some(Role::Joining) => "joining",
        }
    }

    /// The leader's web URL, as the election says (ours without one).
    fn leader_url(&self) -> Option<String> {
        match &self.leaders {
            None => Some(self.config.url.clone()),
            Some(leaders) => leaders.borrow().as_ref().map(|leader| leader.id.clone()),
        }
    }

    fn current_count(&self) -> Option<usize> {
        self.leading
            .borrow()
            .as_ref()
            .map(|leading| leading.instances)
    }

    /// The page, with the form's field holding `value`.
    fn page(
        &self,
        status: StatusCode,
        value: String,
        error: Option<String>,
        notice: Option<String>,
    ) -> Response<Full<Bytes>> {
        let role = self.role();
        let page = Page {
            name: &self.config.name,
            role,
            this_url: &self.config.url,
            leader_url: self.leader_url(),
            leading: self.leading.borrow().clone(),
            master: &self.config.master,
            max_instances: self.config.max_instances,
            value,
            csrf: &self.csrf,
            error,
            notice,
        };
        match page.render() {
            Ok(html) => {
                let mut response = text(status, &html);
                set(
                    &mut response,
                    header::CONTENT_TYPE,
                    "text/html; charset=utf-8",
                );
                // Not to be framed by another site (clickjacking).
                set(&mut response, header::X_FRAME_OPTIONS, "DENY");
                response
            }
            Err(error) => {
                tracing::error!(%error, "cannot render the page");
                text(StatusCode::INTERNAL_SERVER_ERROR, "cannot render the page")
            }
        }
    }

    /// `POST /`: the form.
    async fn post_form(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let body = match read_body(request).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        let Form {
            csrf,
            instances: raw,
        } = Form::read(&body);
        if csrf.as_deref() != Some(&*self.csrf) {
            let reason = "This form did not come from this page (or the page is older than this \
                          instance): reload the page and try again.";
            return self.page(StatusCode::FORBIDDEN, raw, Some(reason.into()), None);
        }
        let count = match parse_count(&raw, self.config.max_instances) {
            Ok(count) => count,
            Err(reason) => return self.page(StatusCode::BAD_REQUEST, raw, Some(reason), None),
        };
        if self.role() == "leader" {
            return match self.apply(count).await {
                Ok(()) => see_other(&format!("/?saved={count}")),
                Err(reason) => self.page(StatusCode::SERVICE_UNAVAILABLE, raw, Some(reason), None),
            };
        }
        // A standby hands the form to the leader.
        let Some(leader) = self.leader_url() else {
            let reason = "No instance leads right now, so nothing can be changed: try again in a \
                          moment.";
            return self.page(
                StatusCode::SERVICE_UNAVAILABLE,
                raw,
                Some(reason.into()),
                None,
            );
        };
        match forward(&leader, count, self.config.guard.as_ref()).await {
            Ok(()) => see_other(&format!(
                "{}/?forwarded={count}",
                leader.trim_end_matches('/')
            )),
            Err(reason) => {
                let reason = format!("The leader ({leader}) did not take it: {reason}");
                self.page(StatusCode::BAD_GATEWAY, raw, Some(reason), None)
            }
        }
    }

    /// `POST /api/instances`: `{"instances": N}`, from a standby (or a script).
    async fn post_api(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return error_json(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send JSON: {\"instances\": N}",
            );
        }
        let body = match read_body(request).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        let asked: InstancesJson = match serde_json::from_slice(&body) {
            Ok(asked) => asked,
            Err(error) => {
                let reason = format!("expected {{\"instances\": N}}: {error}");
                return error_json(StatusCode::BAD_REQUEST, &reason);
            }
        };
        let count = match parse_count(&asked.instances.to_string(), self.config.max_instances) {
            Ok(count) => count,
            Err(reason) => return error_json(StatusCode::BAD_REQUEST, &reason),
        };
        if self.role() != "leader" {
            let reason = match self.leader_url() {
                Some(leader) => format!("this instance does not lead; {leader} does"),
                None => "this instance does not lead, and no instance does right now".into(),
            };
            return error_json(StatusCode::SERVICE_UNAVAILABLE, &reason);
        }
        match self.apply(count).await {
            Ok(()) => json(
                StatusCode::OK,
                &InstancesJson {
                    instances: count as i64,
                },
            ),
            Err(reason) => error_json(StatusCode::SERVICE_UNAVAILABLE, &reason),
        }
    }

    /// Hands a count to the leader's term and waits until it is stored.
    async fn apply(&self, count: usize) -> Result<(), String> {
        let (reply, stored) = oneshot::channel();
        self.commands
            .send(SetInstances { count, reply })
            .await
            .map_err(|_| "the scheduler is not running".to_string())?;
        stored
            .await
            .unwrap_or_else(|_| Err("this instance stopped leading before it was stored".into()))
    }

    fn state(&self) -> State {
        State {
            framework_name: self.config.name.clone(),
            role: self.role(),
            this_instance: self.config.url.clone(),
            leader: self.leader_url(),
            max_instances: self.config.max_instances,
            master: self.config.master.clone(),
            leading: self.leading.borrow().clone(),
        }
    }
}

/// `/api/state`.
#[derive(Serialize)]
struct State {
    framework_name: String,
    role: &'static str,
    this_instance: String,
    leader: Option<String>,
    max_instances: usize,
    master: String,
    /// What the leader knows; only on the leader.
    leading: Option<Leading>,
}

/// `/api/instances`' body. Signed, so that a negative number is refused
/// with the same reason as in the form rather than as malformed JSON.
#[derive(Serialize, Deserialize)]
struct InstancesJson {
    instances: i64,
}

/// The page (`templates/index.html`). Askama escapes every value it
/// inserts: a task message holding `<script>` shows as text.
#[derive(Template)]
#[template(path = "index.html")]
struct Page<'a> {
    name: &'a str,
    role: &'static str,
    this_url: &'a str,
    leader_url: Option<String>,
    leading: Option<Leading>,
    master: &'a str,
    max_instances: usize,
    /// The form field's value: the current count, or what was typed.
    value: String,
    csrf: &'a str,
    error: Option<String>,
    notice: Option<String>,
}

/// The message the page shows after a redirect.
fn notice(query: Option<&str>) -> Option<String> {
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let count: usize = value.parse().ok()?;
        match &*key {
            "saved" => return Some(format!("Saved: {count} tasks to run.")),
            "forwarded" => {
                return Some(format!(
                    "A standby handed your change to this instance, the leader, which took it: \
                     {count} tasks to run."
                ));
            }
            _ => {}
        }
    }
    None
}

/// Hands a count to the leader at `leader` (its web URL).
async fn forward(leader: &str, count: usize, guard: Option<&Credentials>) -> Result<(), String> {
    let uri: http::Uri = format!("{}/api/instances", leader.trim_end_matches('/'))
        .parse()
        .map_err(|e| format!("its address is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// leaders can be reached".into());
    }
    let host = uri.host().ok_or("its address has no host")?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let body = serde_json::to_vec(&InstancesJson {
        instances: count as i64,
    })
    .expect("JSON");
    let mut request = Request::post(uri.path())
        .header(header::HOST, format!("{host}:{port}"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(guard) = guard {
        request = request.header(header::AUTHORIZATION, guard.basic_authorization());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if status == StatusCode::OK {
        return Ok(());
    }
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| status.to_string());
    Err(message)
}

async fn read_body(request: Request<Incoming>) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(_) => Err(text(StatusCode::PAYLOAD_TOO_LARGE, "request too large")),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    set(
        &mut response,
        header::CONTENT_TYPE,
        "text/plain; charset=utf-8",
    );
    response
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_string(value).expect("our types serialize");
    let mut response = text(status, &body);
    set(&mut response, header::CONTENT_TYPE, "application/json");
    response
}

fn error_json(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    json(status, &serde_json::json!({ "error": reason }))
}

/// `303 See Other`: after a form, the browser GETs the page, so that
/// reloading it does not post the form again.
fn see_other(location: &str) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::SEE_OTHER, "");
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn set(response: &mut Response<Full<Bytes>>, name: header::HeaderName, value: &'static str) {
    response
        .headers_mut()
        .insert(name, HeaderValue::from_static(value));
}

/// Binds the web server's address, failing early with a clear message.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatever_the_page_shows_is_escaped() {
        let hostile = "<script>alert(1)</script>";
        let task = crate::view::TaskRow {
            id: "t-1".into(),
            state: "TASK_FAILED".into(),
            agent: hostile.into(),
            started: None,
            changed: None,
            message: Some(hostile.into()),
            reason: Some(hostile.into()),
        };
        let page = Page {
            name: hostile,
            role: "leader",
            this_url: "http://127.0.0.1:8088",
            leader_url: Some(hostile.into()),
            leading: Some(Leading {
                framework_id: Some(hostile.into()),
                instances: 1,
                master: Some(hostile.into()),
                running: vec![task.clone()],
                staging: vec![task],
            }),
            master: hostile,
            max_instances: 100,
            value: format!("\"{hostile}"),
            csrf: "token",
            error: Some(hostile.into()),
            notice: Some(hostile.into()),
        };
        let html = page.render().unwrap();
        // The page's own script is the only one.
        assert_eq!(html.matches("<script>").count(), 1, "{html}");
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{html}"
        );
        assert!(
            !html.contains(r#"value=""<"#),
            "the value attribute is not broken out of"
        );
    }

    #[test]
    fn notices_say_who_took_the_change() {
        assert_eq!(notice(Some("saved=3")).unwrap(), "Saved: 3 tasks to run.");
        assert!(
            notice(Some("forwarded=2"))
                .unwrap()
                .contains("the leader, which took it")
        );
        assert_eq!(notice(Some("saved=<script>")), None);
        assert_eq!(notice(None), None);
    }
}

//! Service discovery through a real HAProxy: clients reach an app on its
//! service port, whichever agents and host ports its tasks have.
//!
//! With `--haproxy-config`, the leader renders HAProxy's configuration
//! from the tasks that serve each app with a service port
//! ([`config::render`], a plain function), and a task of its own writes,
//! checks and reloads it ([`reload`]) through HAProxy's master CLI
//! ([`master_cli`]: master-worker mode, which reloads without refusing
//! connections).
//!
//! One ordering matters: a task 5K kills leaves the backends *before* its
//! KILL goes out. Otherwise HAProxy keeps sending it connections while
//! it dies, and those fail. The scheduler stops counting a task as
//! serving the moment it decides to kill it, so the configuration of
//! that batch no longer has it; [`Backends`] holds the batch's KILL calls
//! until the reload of that configuration is done. The scheduler's
//! decisions never wait for HAProxy: only the KILLs do.

mod config;
mod master_cli;
mod reload;

use std::{net::IpAddr, path::PathBuf, sync::Arc};

pub use config::{render, services};
use mesos::v1::scheduler::{Call, call};
use tokio::sync::watch;

use crate::scheduler::Scheduler;

/// A configuration to put into effect, with its generation number.
type Rendered = (u64, Arc<String>);

/// Where HAProxy is and how to reach it (flags `--haproxy-*`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The configuration file HAProxy's master was started with.
    pub config: PathBuf,
    /// Its master CLI (`haproxy -W -S <socket>`).
    pub master_socket: PathBuf,
    /// The address service ports are bound on.
    pub bind: IpAddr,
    /// The `haproxy` program, to check a configuration (`haproxy -c`).
    pub binary: PathBuf,
}

/// The core loop's side of HAProxy: what was rendered last, and the KILL
/// calls waiting for the reload that drops their tasks.
pub struct Backends {
    bind: IpAddr,
    rendered: Option<Arc<String>>,
    /// Each new configuration's number; `applied` says which is in effect.
    generation: u64,
    wanted: watch::Sender<Rendered>,
    applied: watch::Receiver<u64>,
    held: Vec<(u64, Call)>,
}

impl Backends {
    /// Starts the reloading task. Must run inside the tokio runtime.
    pub fn start(settings: Settings) -> Backends {
        let (wanted, wanted_receiver) = watch::channel((0, Arc::new(String::new())));
        let (applied_sender, applied) = watch::channel(0);
        let bind = settings.bind;
        tokio::spawn(reload::run(settings, wanted_receiver, applied_sender));
        Backends {
            bind,
            rendered: None,
            generation: 0,
            wanted,
            applied,
            held: Vec::new(),
        }
    }

    /// A new term as the leader: its scheduler is rendered afresh, and
    /// the KILLs of an earlier term are dropped (a new leader sends the
    /// KILLs of the tasks being killed again).
    pub fn new_term(&mut self) {
        self.rendered = None;
        self.held.clear();
    }

    /// After a batch is saved: renders the configuration if tasks or apps
    /// changed (`touched`) and hands it to the reloading task if it
    /// differs; then keeps back the KILL calls until that reload is done.
    /// Returns the calls to send now.
    pub fn hold_kills(
        &mut self,
        scheduler: &Scheduler,
        touched: bool,
        calls: Vec<Call>,
    ) -> Vec<Call> {
        if touched || self.rendered.is_none() {
            let text = render(self.bind, &services(scheduler));
            if self.rendered.as_deref() != Some(&text) {
                let text = Arc::new(text);
                self.generation += 1;
                self.rendered = Some(text.clone());
                self.wanted.send_replace((self.generation, text));
            }
        }
        if *self.applied.borrow() >= self.generation {
            return calls;
        }
        let (kills, now): (Vec<Call>, Vec<Call>) = calls
            .into_iter()
            .partition(|call| call.r#type() == call::Type::Kill);
        let generation = self.generation;
        self.held
            .extend(kills.into_iter().map(|kill| (generation, kill)));
        now
    }

    /// Completes with the KILL calls whose reload is done. Safe to drop
    /// unfinished (in a `select!`): nothing is taken before it completes.
    pub async fn released(&mut self) -> Vec<Call> {
        loop {
            let applied = *self.applied.borrow_and_update();
            if self
                .held
                .iter()
                .any(|(generation, _)| *generation <= applied)
            {
                let (ready, waiting) = std::mem::take(&mut self.held)
                    .into_iter()
                    .partition(|(generation, _)| *generation <= applied);
                self.held = waiting;
                return ready.into_iter().map(|(_, kill)| kill).collect();
            }
            if self.applied.changed().await.is_err() {
                // The reloading task is gone: nothing to wait for.
                if self.held.is_empty() {
                    std::future::pending::<()>().await;
                }
                return std::mem::take(&mut self.held)
                    .into_iter()
                    .map(|(_, kill)| kill)
                    .collect();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;
    use mesos::v1::{TaskId, TaskState};

    use super::*;
    use crate::{
        app::{App, AppRequest, PathId},
        scheduler::{AppEntry, task::Task},
    };

    /// Backends whose reloads the test completes by hand.
    fn backends() -> (Backends, watch::Receiver<Rendered>, watch::Sender<u64>) {
        let (wanted, wanted_receiver) = watch::channel((0, Arc::new(String::new())));
        let (applied_sender, applied) = watch::channel(0);
        let backends = Backends {
            bind: IpAddr::from([127, 0, 0, 1]),
            rendered: None,
            generation: 0,
            wanted,
            applied,
            held: Vec::new(),
        };
        (backends, wanted_receiver, applied_sender)
    }

    fn scheduler(killing: bool) -> Scheduler {
        let request: AppRequest =
            serde_json::from_str(r#"{"cmd": "x", "portDefinitions": [{"port": 10000}]}"#).unwrap();
        let app = App::create(PathId::parse("/web"), request, "v1");
        let task = Task {
            id: "web.1".into(),
            app_id: app.id.clone(),
            agent_id: "agent".into(),
            host: "127.0.0.1".into(),
            ports: vec![31000],
            service_ports: vec![10000],
            state: TaskState::TaskRunning,
            staged_at: String::new(),
            started_at: None,
            version: "v1".into(),
            config_version: "v1".into(),
            killing,
            healthy: None,
            agent_info: Default::default(),
        };
        let entry = AppEntry {
            app,
            versions: vec![],
            last_task_failure: None,
        };
        Scheduler::restore(None, vec![entry], vec![], vec![task])
    }

    fn kill() -> Call {
        let task_id = TaskId {
            value: "web.1".into(),
        };
        mesos::calls::kill(task_id, None, None)
    }

    #[test]
    fn a_kill_waits_for_the_reload_that_drops_its_task() {
        let (mut backends, wanted, applied) = backends();
        // In the backend at first: that configuration is reloaded.
        backends.hold_kills(&scheduler(false), true, vec![]);
        applied.send_replace(wanted.borrow().0);

        // The task is being killed: the KILL waits, other calls go out.
        let revive = mesos::calls::revive(vec![]);
        let now = backends.hold_kills(&scheduler(true), true, vec![kill(), revive.clone()]);
        assert_eq!(now, vec![revive]);
        let (generation, text) = wanted.borrow().clone();
        assert!(!text.contains("web.1"), "{text}");
        assert_eq!(backends.released().now_or_never(), None);

        // Until HAProxy runs the configuration without it.
        applied.send_replace(generation);
        assert_eq!(backends.released().now_or_never(), Some(vec![kill()]));
    }

    #[test]
    fn an_unchanged_configuration_is_not_reloaded_and_holds_nothing() {
        let (mut backends, wanted, applied) = backends();
        backends.hold_kills(&scheduler(true), true, vec![]);
        let generation = wanted.borrow().0;
        applied.send_replace(generation);
        // A KILL sent again (the retry after 15 s): same backends.
        let now = backends.hold_kills(&scheduler(true), true, vec![kill()]);
        assert_eq!(now, vec![kill()]);
        assert_eq!(wanted.borrow().0, generation);
    }
}

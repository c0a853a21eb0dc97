//! One term as the leader: from being elected to stepping down.
//!
//! Elected, an instance does what step 03 did from start to finish: it
//! reads the state the last leader left (it may have changed since this
//! instance last led), subscribes with the stored framework ID (for Mesos,
//! a scheduler failover), reconciles, and schedules. What is new is how a
//! term ends, and that it must end *at once*:
//!
//! * **Leadership in doubt.** The moment the ZooKeeper session is
//!   disconnected, the election says [`Role::Suspended`]: the session may
//!   already have expired on the servers, and another instance may be
//!   elected as soon as it has, which we cannot know from here. So the term
//!   ends there: no more calls to the master, no more writes. (If the
//!   session survives, we are still the leader, and a new term starts.)
//! * **Given up.** `SIGUSR1` (the workshop's "cycle the leader"), or
//!   another scheduler took the framework over (ERROR "Framework failed
//!   over"): rather than fight for it, this instance resigns and becomes a
//!   standby.
//! * **Fenced.** A write of the state fails because our election node is
//!   gone (we were deposed while paused), or someone else wrote the state:
//!   another instance leads now. Step down.
//!
//! Between the events it checks, before each write and each call, that it
//! still leads. That narrows the window; fencing closes it: a write that
//! goes out after all is refused by ZooKeeper, and the master refuses the
//! calls of a subscription it replaced.
//!
//! The web page sees the term from the outside: after each round of events
//! the term publishes what it knows (`view.rs`), and a new count from the page
//! comes in as an event like the others, stored before anything acts on
//! it.

use std::time::{Duration, Instant};

use mesos::{
    ClientOptions, Driver, DriverConfig, DriverEvent, MasterSpec,
    leader::{Election, Role},
    state::{EVENTS_PER_SAVE, StateError, ZkUrl},
    v1::{FrameworkId, FrameworkInfo, scheduler::Call},
};
use tokio::{
    signal::unix::Signal,
    sync::{mpsc, watch},
};

use crate::{
    scheduler::{Scheduler, TaskSpec},
    store::Store,
    view::Leading,
    web::SetInstances,
};

/// How many copies to run when neither ZooKeeper nor `--instances` says.
const DEFAULT_INSTANCES: usize = 2;

/// How long to wait before leading again after a term that failed to
/// start (ZooKeeper's state unreachable): no faster than a save is retried.
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// What every term needs, from the flags.
pub struct Settings {
    pub master: MasterSpec,
    /// How to talk to the master (credentials).
    pub client: ClientOptions,
    pub zk: Option<ZkUrl>,
    pub user: String,
    pub name: String,
    pub failover_timeout: f64,
    pub instances: Option<usize>,
    pub spec: TaskSpec,
    pub reconcile_interval: Duration,
    /// This instance's web page: the leader's goes in FrameworkInfo, for
    /// the Mesos UI to link to.
    pub web_url: String,
}

/// The term's link with the web page.
pub struct WebLink {
    /// What the leader knows, for the page; `None` when not leading.
    pub leading: watch::Sender<Option<Leading>>,
    /// New counts from the page.
    pub commands: mpsc::Receiver<SetInstances>,
}

/// The signals a leader answers.
pub struct Signals {
    /// Ctrl-C (SIGINT): the process ends.
    pub interrupt: Signal,
    /// SIGUSR1: give up leadership, stay as a standby.
    pub resign: Signal,
}

/// How a term ended.
pub enum Term {
    /// Ctrl-C: the process ends.
    Shutdown,
    /// Leadership lost: wait as a standby.
    SteppedDown,
    /// Leadership given up: our node went to the back of the queue; wait
    /// as a standby for a term with a new node.
    Resigned,
    /// Something an operator must look at: the process ends with an error.
    Failed,
}

/// Serves one term as the leader. `election` is `None` without `--zk`:
/// then this instance leads alone, as in step 03. `node` is our election
/// node, which fences every write of the state.
///
/// Each round: something happens (events from the master, a timer, the
/// election, a signal), the leader decides, stores what it decided, and
/// sends the calls, until one of them ends the term.
pub async fn serve(
    settings: &Settings,
    election: Option<&Election>,
    node: Option<String>,
    signals: &mut Signals,
    web: &mut WebLink,
) -> Term {
    let (mut leader, mut events) = match Leader::start(settings, election, node).await {
        Ok(started) => started,
        Err(end) => return end,
    };
    let mut roles = election.map(Election::roles);
    let mut waiting = Vec::new();
    let end = loop {
        let round = tokio::select! {
            // Every event waiting, up to a limit: all are decided, then one
            // save covers them (group commit, `mesos::state::EVENTS_PER_SAVE`).
            received = events.recv_many(&mut waiting, EVENTS_PER_SAVE) => match received {
                0 => Round::End(Term::Failed), // the driver stopped
                _ => leader.on_events(waiting.drain(..)),
            },
            // Time to ask the master about our tasks again.
            () = sleep_until(leader.scheduler.next_reconciliation()) => {
                Round::Act(leader.scheduler.on_reconciliation_timer(Instant::now()))
            }
            // A save failed a moment ago: try again, events or not.
            () = sleep_until(leader.store.retry_at()) => Round::Act(vec![]),
            // Someone changed the instance count in ZooKeeper: the save
            // finds it, and the scheduler adopts it.
            () = leader.store.instances_changed() => Round::Act(vec![]),
            role = role_change(&mut roles) => on_role(role),
            _ = signals.resign.recv() => {
                tracing::info!("SIGUSR1: giving up leadership");
                Round::End(leader.give_up())
            }
            _ = signals.interrupt.recv() => {
                tracing::info!("Ctrl-C: disconnecting from the master");
                Round::End(Term::Shutdown)
            }
            Some(command) = web.commands.recv() => leader.set_instances(command).await,
        };
        let calls = match round {
            Round::Act(calls) => calls,
            Round::Wait => continue,
            Round::End(end) => break end,
        };
        if let Err(end) = leader.store_and_send(calls).await {
            break end;
        }
        web.leading.send_replace(Some(leader.view()));
    };
    web.leading.send_replace(None);
    // Closing the subscription does not tear the framework down: the next
    // leader subscribes with its ID within the failover timeout.
    leader.driver.stop().await;
    end
}

/// What a round of the term's loop does once something happened.
enum Round {
    /// Store the scheduler's state, then send these calls.
    Act(Vec<Call>),
    /// Nothing to store or send.
    Wait,
    /// The term is over.
    End(Term),
}

/// What the leader holds during its term.
struct Leader<'a> {
    election: Option<&'a Election>,
    store: Store,
    scheduler: Scheduler,
    driver: Driver,
}

impl<'a> Leader<'a> {
    /// Reads what the last leader left, before doing anything else, then
    /// starts the driver (which subscribes, and stays subscribed) and the
    /// scheduler. Also returns the driver's events.
    async fn start(
        settings: &Settings,
        election: Option<&'a Election>,
        node: Option<String>,
    ) -> Result<(Leader<'a>, mpsc::Receiver<DriverEvent>), Term> {
        let (mut store, stored) = match Store::open(settings.zk.as_ref()).await {
            Ok(opened) => opened,
            Err(error @ StateError::BadData { .. }) => {
                tracing::error!("cannot read the framework's state: {error}");
                return Err(Term::Failed);
            }
            Err(error) => {
                tracing::error!(retry_in = ?RETRY_PAUSE, "cannot read the framework's state: {error}");
                tokio::time::sleep(RETRY_PAUSE).await;
                return Err(match election {
                    Some(_) => Term::SteppedDown,
                    None => Term::Failed,
                });
            }
        };
        // Every write from now on checks that we still hold our election node.
        store.fence_with(node);
        if !leads(election) {
            return Err(Term::SteppedDown);
        }
        let framework_info = framework_info(settings, stored.framework_id.clone());
        let mut config = DriverConfig::new(settings.master.clone(), framework_info);
        config.client = settings.client.clone();
        let (driver, events) = Driver::start(config).map_err(|error| {
            tracing::error!("cannot start the driver: {error}");
            Term::Failed
        })?;
        let scheduler = Scheduler::new(
            instance_count(stored.instances, settings.instances),
            settings.spec.clone(),
            stored.framework_id,
            stored.tasks,
            settings.reconcile_interval,
        );
        let leader = Leader {
            election,
            store,
            scheduler,
            driver,
        };
        Ok((leader, events))
    }

    /// A round of events from the master, all decided before one save.
    fn on_events(&mut self, events: impl Iterator<Item = DriverEvent>) -> Round {
        let mut calls = Vec::new();
        for event in events {
            if event.ends_a_subscription() {
                // What was decided for the subscription that is over must
                // not go out on the next one.
                calls.clear();
            }
            match event {
                // What was decided before it is dropped unsaved and unsent:
                // another scheduler runs the framework now.
                DriverEvent::FailedOver { message } => {
                    tracing::warn!(master_said = %message, "another scheduler took the framework over: giving up leadership");
                    return Round::End(self.give_up());
                }
                DriverEvent::Refused { message } => {
                    tracing::error!(master_said = %message, "the master refused the subscription");
                    return Round::End(Term::Failed);
                }
                event => calls.extend(self.scheduler.on_event(&event, Instant::now())),
            }
        }
        Round::Act(calls)
    }

    /// A new count from the page, stored before anything acts on it; the
    /// page is told whether that worked.
    async fn set_instances(&mut self, SetInstances { count, reply }: SetInstances) -> Round {
        // A count that cannot be stored now is refused rather than acted
        // on: a successor would not know of it.
        if !self.scheduler.is_durable() {
            let _ = reply.send(Err(
                "ZooKeeper cannot be written right now, so the count was not changed: \
                 try again in a moment"
                    .into(),
            ));
            return Round::Wait;
        }
        let calls = self.scheduler.set_instances(count);
        if !leads(self.election) {
            let _ = reply.send(Err("this instance stopped leading".into()));
            return Round::End(Term::SteppedDown);
        }
        let calls = match self.store.save(&mut self.scheduler, calls).await {
            Ok(calls) => calls,
            Err(reason) => {
                let _ = reply.send(Err(reason.clone()));
                return Round::End(self.deposed(&reason));
            }
        };
        let _ = reply.send(if self.scheduler.is_durable() {
            Ok(())
        } else {
            Err(
                "the new count could not be stored in ZooKeeper yet; this leader \
                 will store it as soon as it can"
                    .into(),
            )
        });
        // Stored (or to be retried): the calls that may go out, go out.
        Round::Act(calls)
    }

    /// Write-ahead, as in step 03, but only while we lead: a deposed
    /// leader must not write, and ZooKeeper refuses it if it tries
    /// (fencing). Then the calls that may go out, each only while we
    /// still lead.
    async fn store_and_send(&mut self, calls: Vec<Call>) -> Result<(), Term> {
        if !leads(self.election) {
            return Err(Term::SteppedDown);
        }
        let calls = match self.store.save(&mut self.scheduler, calls).await {
            Ok(calls) => calls,
            Err(reason) => return Err(self.deposed(&reason)),
        };
        if let Some(adopted) = self.scheduler.take_adopted_framework() {
            // We had no framework yet, and another instance stored one
            // (`store.rs`): subscribe with its ID and carry on its tasks.
            self.driver.set_framework_id(Some(adopted));
        }
        for call in calls {
            if !leads(self.election) {
                return Err(Term::SteppedDown);
            }
            if let Err(error) = self.driver.call(call).await {
                tracing::warn!(%error, "call to the master failed");
            }
        }
        Ok(())
    }

    /// What the page shows while we lead.
    fn view(&self) -> Leading {
        let master = self.driver.master().map(|master| master.to_string());
        Leading::of(&self.scheduler, master)
    }

    /// Giving up leadership: resign (and stay), or, leading alone, stop.
    fn give_up(&self) -> Term {
        match self.election {
            Some(election) => {
                election.resign();
                Term::Resigned
            }
            None => Term::Failed,
        }
    }

    /// A write was fenced, or someone else wrote the state: another
    /// instance may lead.
    fn deposed(&self, reason: &str) -> Term {
        tracing::warn!("{reason}: another instance may lead; stepping down");
        self.give_up()
    }
}

/// Asked before every write and every call. A term can also end here, not
/// only in [`on_role`]: the change may land while we wait on ZooKeeper or
/// the master, and then this is where we find out.
fn leads(election: Option<&Election>) -> bool {
    match election {
        Some(election) if !election.role().is_leader() => {
            let role = election.role();
            tracing::warn!(?role, "no longer sure to lead: stopping at once");
            false
        }
        _ => true,
    }
}

/// The election's news: the term ends the moment leadership is in doubt.
fn on_role(role: Role) -> Round {
    if role.is_leader() {
        return Round::Wait;
    }
    tracing::warn!(?role, "no longer sure to lead: stopping at once");
    Round::End(Term::SteppedDown)
}

/// Who we are to the master.
fn framework_info(settings: &Settings, stored: Option<FrameworkId>) -> FrameworkInfo {
    FrameworkInfo {
        // Subscribing with the stored ID resumes the framework the last
        // leader registered, running tasks and all. With none, the master
        // registers a new framework.
        id: stored,
        user: settings.user.clone(),
        name: settings.name.clone(),
        // Mesos' default is 0: the framework's tasks would be killed the
        // moment its scheduler disconnects, crash or restart alike.
        failover_timeout: Some(settings.failover_timeout),
        // Agents write the tasks' state to disk, so that the tasks survive
        // an agent restart too.
        checkpoint: Some(true),
        // The Mesos UI links the framework's name to the leader's page.
        webui_url: Some(settings.web_url.clone()),
        ..Default::default()
    }
}

/// The next role the election announces, if there is an election.
async fn role_change(roles: &mut Option<watch::Receiver<Role>>) -> Role {
    if let Some(roles) = roles
        && roles.changed().await.is_ok()
    {
        return roles.borrow_and_update().clone();
    }
    std::future::pending().await
}

/// Completes at `at`, or never if there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The stored count wins over `--instances`: once the framework runs, its
/// instance count lives in ZooKeeper (a later step changes it from a web
/// UI), and a flag left in a start script must not undo that at every
/// restart. The flag only sets the first count.
pub fn instance_count(stored: Option<usize>, flag: Option<usize>) -> usize {
    let (instances, source) = match (stored, flag) {
        (Some(stored), Some(flag)) if flag != stored => {
            tracing::warn!("--instances {flag} ignored: ZooKeeper holds a count already");
            (stored, "stored in ZooKeeper")
        }
        (Some(stored), _) => (stored, "stored in ZooKeeper"),
        (None, Some(flag)) => (flag, "from --instances"),
        (None, None) => (DEFAULT_INSTANCES, "the default"),
    };
    tracing::info!(instances, "instance count: {source}");
    instances
}

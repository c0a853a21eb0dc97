//! What the page shows, read from the scheduler, and the templates that
//! show it.
//!
//! The rows are plain values made inside a `Core::run` closure: the
//! templates render them after the scheduler has moved on, and never see
//! it half-way through a decision. Askama escapes every value the
//! templates insert: an app's label holding `<script>` shows as text.

use askama::Template;
use mesos::v1::TaskState;

use crate::{
    app::App,
    scheduler::{AppEntry, Scheduler, deployment::Deployment, offer_stats::OfferStats, task::Task},
};

/// The most tasks an app's page lists: an app of 10,000 instances would
/// make a page of megabytes. The API lists them all.
pub const MAX_TASK_ROWS: usize = 500;

/// One app in the list.
#[derive(Debug, Clone)]
pub struct AppRow {
    /// Its path, `/shop/web`.
    pub id: String,
    pub instances: u32,
    pub running: usize,
    /// Launched and not running yet (or being killed), as Marathon's
    /// `tasksStaged` counts them.
    pub staged: usize,
    pub health: String,
    /// The ids of the deployments changing it.
    pub deployments: Vec<String>,
    /// Why it waits for tasks, in a sentence, if it does: "waiting: the
    /// last 12 offers had too little memory (…)".
    pub waiting: Option<String>,
}

impl AppRow {
    pub fn of(scheduler: &Scheduler, entry: &AppEntry) -> AppRow {
        let app = &entry.app;
        let (mut running, mut staged) = (0, 0);
        for task in scheduler.tasks().of_app(&app.id) {
            match task.state {
                TaskState::TaskRunning => running += 1,
                _ => staged += 1,
            }
        }
        AppRow {
            id: app.id.to_string(),
            instances: app.instances,
            running,
            staged,
            health: health(scheduler, app),
            deployments: scheduler
                .deployments_of(&app.id)
                .map(|d| d.id.clone())
                .collect(),
            waiting: waiting(scheduler, app),
        }
    }
}

/// Why `app` waits for tasks, if it does (`scheduler/offer_stats.rs`).
fn waiting(scheduler: &Scheduler, app: &App) -> Option<String> {
    if !scheduler.is_queued(&app.id) {
        return None;
    }
    // A crash loop holds launches back whatever the offers say.
    let delay = scheduler
        .app(&app.id)
        .map(|entry| scheduler.launch_delay(entry));
    if let Some((seconds, false)) = delay.filter(|(seconds, _)| *seconds > 0) {
        return Some(format!(
            "waiting: its tasks keep failing, next launch in {seconds} s \
             (backoff; DELETE /v2/queue{}/delay to launch now)",
            app.id
        ));
    }
    Some(match scheduler.offer_stats(&app.id) {
        Some(stats) => stats.explain(app),
        None => OfferStats::default().explain(app),
    })
}

/// What the health checks found: "2 healthy, 1 unhealthy" (tasks not
/// checked yet count as neither).
fn health(scheduler: &Scheduler, app: &App) -> String {
    if app.health_checks.is_empty() {
        return "no health checks".into();
    }
    let (mut healthy, mut unhealthy) = (0, 0);
    for task in scheduler.tasks().of_app(&app.id) {
        match task.healthy {
            Some(true) => healthy += 1,
            Some(false) => unhealthy += 1,
            None => {}
        }
    }
    match (healthy, unhealthy) {
        (0, 0) => "not checked yet".into(),
        (healthy, 0) => format!("{healthy} healthy"),
        (healthy, unhealthy) => format!("{healthy} healthy, {unhealthy} unhealthy"),
    }
}

/// One task of an app.
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub id: String,
    pub host: String,
    pub ports: String,
    /// As Mesos spells it: `TASK_RUNNING`.
    pub state: &'static str,
    pub started: String,
}

impl TaskRow {
    fn of(task: &Task) -> TaskRow {
        let ports: Vec<String> = task.ports.iter().map(u64::to_string).collect();
        TaskRow {
            id: task.id.clone(),
            host: task.host.clone(),
            ports: ports.join(", "),
            state: task.state.as_str_name(),
            started: task.started_at.clone().unwrap_or_default(),
        }
    }
}

/// One deployment of an app.
#[derive(Debug, Clone)]
pub struct DeploymentRow {
    pub id: String,
    pub version: String,
    pub current_step: usize,
    pub total_steps: usize,
    /// What the current step does: `ScaleApplication`.
    pub action: &'static str,
}

impl DeploymentRow {
    fn of(deployment: &Deployment) -> DeploymentRow {
        let action = deployment
            .steps
            .get(deployment.current_step.saturating_sub(1))
            .map_or("", |action| action.name());
        DeploymentRow {
            id: deployment.id.clone(),
            version: deployment.version.clone(),
            current_step: deployment.current_step,
            total_steps: deployment.steps.len(),
            action,
        }
    }
}

/// One app, whole, for its page.
#[derive(Debug, Clone)]
pub struct AppDetail {
    pub row: AppRow,
    /// `cmd`, or `args` joined by spaces.
    pub command: String,
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub version: String,
    pub labels: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    /// The first [`MAX_TASK_ROWS`] tasks, by id.
    pub tasks: Vec<TaskRow>,
    /// How many more it has.
    pub more_tasks: usize,
    pub deployments: Vec<DeploymentRow>,
}

impl AppDetail {
    pub fn of(scheduler: &Scheduler, entry: &AppEntry) -> AppDetail {
        let app = &entry.app;
        let mut tasks: Vec<TaskRow> = scheduler.tasks().of_app(&app.id).map(TaskRow::of).collect();
        tasks.sort_by(|a, b| a.id.cmp(&b.id));
        let more_tasks = tasks.len().saturating_sub(MAX_TASK_ROWS);
        tasks.truncate(MAX_TASK_ROWS);
        let command = match (&app.cmd, &app.args) {
            (Some(cmd), _) => cmd.clone(),
            (None, Some(args)) => args.join(" "),
            (None, None) => String::new(),
        };
        AppDetail {
            row: AppRow::of(scheduler, entry),
            command,
            cpus: app.cpus,
            mem: app.mem,
            disk: app.disk,
            version: app.version.clone(),
            labels: pairs(&app.labels),
            env: pairs(&app.env),
            tasks,
            more_tasks,
            deployments: scheduler
                .deployments_of(&app.id)
                .map(DeploymentRow::of)
                .collect(),
        }
    }
}

fn pairs(map: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `GET /ui/` (`templates/apps.html`).
#[derive(Template)]
#[template(path = "apps.html")]
pub struct AppsPage {
    pub apps: Vec<AppRow>,
    pub framework_id: Option<String>,
}

/// `GET /ui/apps/{id}` (`templates/app.html`), and the scale form's answer
/// when it is refused.
#[derive(Template)]
#[template(path = "app.html")]
pub struct AppPage<'a> {
    pub app: AppDetail,
    pub csrf: &'a str,
    /// The form field's value: the current count, or what was typed.
    pub value: String,
    /// Why the form was refused.
    pub error: Option<String>,
    /// The refusal was a lock: offer to force.
    pub locked: bool,
    /// What the last form did, after its redirect.
    pub notice: Option<String>,
}

/// A page that only says something (an unknown app, say).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub title: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hostile: &str) -> AppRow {
        AppRow {
            id: hostile.into(),
            instances: 1,
            running: 0,
            staged: 1,
            health: "not checked yet".into(),
            deployments: vec![hostile.into()],
            // It quotes constraints, which are the client's text.
            waiting: Some(hostile.into()),
        }
    }

    #[test]
    fn whatever_the_pages_show_is_escaped() {
        let hostile = "<script>alert(1)</script>\"'";
        let app = AppDetail {
            row: row(hostile),
            command: hostile.into(),
            cpus: 1.0,
            mem: 128.0,
            disk: 0.0,
            version: hostile.into(),
            labels: vec![(hostile.into(), hostile.into())],
            env: vec![(hostile.into(), hostile.into())],
            tasks: vec![TaskRow {
                id: hostile.into(),
                host: hostile.into(),
                ports: hostile.into(),
                state: "TASK_RUNNING",
                started: hostile.into(),
            }],
            more_tasks: 0,
            deployments: vec![DeploymentRow {
                id: hostile.into(),
                version: hostile.into(),
                current_step: 1,
                total_steps: 1,
                action: "ScaleApplication",
            }],
        };
        let pages = [
            AppPage {
                app,
                csrf: "token",
                value: hostile.into(),
                error: Some(hostile.into()),
                locked: true,
                notice: Some(hostile.into()),
            }
            .render()
            .unwrap(),
            AppsPage {
                apps: vec![row(hostile)],
                framework_id: Some(hostile.into()),
            }
            .render()
            .unwrap(),
            MessagePage {
                title: hostile.into(),
                message: hostile.into(),
            }
            .render()
            .unwrap(),
        ];
        for html in pages {
            assert!(!html.contains("<script"), "{html}");
            assert!(html.contains("&#60;script&#62;alert(1)"), "{html}");
            assert!(
                !html.contains("\"'"),
                "attributes are not broken out of: {html}"
            );
        }
    }
}

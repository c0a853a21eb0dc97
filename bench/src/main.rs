//! `mesos-bench`: how fast and how light a framework built with the kit
//! is, against pymesos. `bin/bench` builds everything and runs it; the
//! figures and how to read them are in BENCHMARKS.md.
//!
//! | file | measures |
//! |---|---|
//! | `offer_cycle.rs` | a scheduler launching tasks on many agents: CPU, wall time, RSS |
//! | `floor.rs` | the protocol's own work per task, the floor to compare with |
//! | `decoding.rs` | RecordIO + protobuf against RecordIO + JSON |
//! | `zk_state.rs` | task records in ZooKeeper: writes, bytes, reading back |
//! | `recovery.rs` | step 03 restarted with many tasks: start to reconciled |
//! | `failover.rs` | step 04: kill -9 of the leader to the new leader's SUBSCRIBE |
//! | `executors.rs` | tasks on our executor against the command executor: latency, CPU, RSS |
//! | `five_k.rs` | 5K deploying apps through Marathon's API: wall, CPU, RSS, reads, failover |
//! | `five_k_ops.rs` | 5K in operation: rolling restart with health checks, check CPU, HAProxy reloads |
//! | `idle.rs` | a scheduler's resident memory when idle |
//! | `pymesos.rs` | the peer (full run only) |
//!
//! Benchmarks, not tests: nothing here asserts a time.

mod decoding;
mod executors;
mod failover;
mod five_k;
mod five_k_ops;
mod floor;
mod idle;
mod offer_cycle;
mod procs;
mod pymesos;
mod recovery;
mod zk_state;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use offer_cycle::{Run, Scheduler};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(name = "mesos-bench", about)]
struct Args {
    #[command(subcommand)]
    command: Option<Bench>,
    /// Every benchmark at a small size (under a minute), without pymesos.
    #[arg(long)]
    quick: bool,
    /// Also 100,000 tasks (the offer cycle of step 01 and the floor, and
    /// step 03's recovery); takes minutes.
    #[arg(long)]
    huge: bool,
    /// Only this benchmark: offer-cycle, decoding, zookeeper, recovery,
    /// failover, executors, idle, five-k or five-k-ops.
    #[arg(long)]
    only: Option<String>,
    /// Where to write the results as JSON.
    #[arg(long, default_value = "target/bench.json")]
    json: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// The protocol-floor scheduler (started by the benchmark itself).
    Floor {
        #[arg(long)]
        master: String,
        #[arg(long)]
        tasks: usize,
    },
    /// The executors benchmark's scheduler (started by the benchmark).
    ExecutorsScheduler {
        #[arg(long)]
        master: String,
        #[arg(long)]
        tasks: usize,
        #[arg(long, value_enum)]
        kind: executors::Kind,
        /// Our executor's binary (`hello-mesos`).
        #[arg(long)]
        executor: PathBuf,
    },
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.command {
        Some(Bench::Floor { master, tasks }) => {
            return runtime.block_on(floor::run(&master, tasks));
        }
        Some(Bench::ExecutorsScheduler {
            master,
            tasks,
            kind,
            executor,
        }) => {
            return runtime.block_on(executors::scheduler(&master, tasks, kind, &executor));
        }
        None => {}
    }
    let mut results = serde_json::Map::new();
    results.insert("machine".into(), machine());
    let wanted = |name: &str| args.only.as_deref().is_none_or(|only| only == name);
    if wanted("offer-cycle") {
        offer_cycles(&args, &mut results)?;
    }
    if wanted("decoding") {
        decodings(&args, &mut results)?;
    }
    if wanted("zookeeper") {
        zookeeper(&args, &runtime, &mut results)?;
    }
    if wanted("recovery") {
        let sizes: &[usize] = match (args.quick, args.huge) {
            (true, _) => &[1_000],
            (false, false) => &[10_000],
            (false, true) => &[10_000, 100_000],
        };
        for &tasks in sizes {
            let recovery = recovery::run(tasks)?;
            let at = |key: &str| recovery[key].as_f64().unwrap_or(0.0);
            println!(
                "recovery     step 03 restarted with {} tasks running and recorded: state read after \
                 {:.2} s, subscribed after {:.2} s, reconciled after {:.2} s; {:.2} s CPU, peak RSS {:.1} MB",
                recovery["tasks"],
                at("records_read_s"),
                at("subscribed_s"),
                at("reconciled_s"),
                at("scheduler_cpu_s"),
                at("scheduler_peak_rss_mb"),
            );
            // The first size under "recovery", as before; 100,000 beside it.
            let key = match tasks {
                100_000 => "recovery_100000",
                _ => "recovery",
            };
            results.insert(key.into(), recovery);
        }
    }
    if wanted("failover") {
        // The step's default session timeout; a shorter one when quick.
        let (kills, session) = if args.quick { (3, 3) } else { (10, 6) };
        let failover = runtime.block_on(failover::run(kills, session))?;
        println!(
            "failover     step 04, {kills} kills -9 of the leader: new leader subscribed after \
             {:.2} / {:.2} / {:.2} s (min / median / max); session timeout {session} s, tickTime {} s, \
             bound {} s",
            failover["min_s"].as_f64().unwrap_or(0.0),
            failover["median_s"].as_f64().unwrap_or(0.0),
            failover["max_s"].as_f64().unwrap_or(0.0),
            failover["tick_time_s"],
            failover["bound_s"],
        );
        results.insert("failover".into(), failover);
    }
    if wanted("executors") {
        executor_runs(&args, &mut results)?;
    }
    if wanted("five-k") {
        let five_k = five_k::run(&five_k::Sizes::new(args.quick))?;
        results.insert("five_k".into(), five_k);
    }
    if wanted("five-k-ops") {
        let ops = five_k_ops::run(&five_k_ops::Sizes::new(args.quick))?;
        results.insert("five_k_ops".into(), ops);
    }
    if wanted("idle") {
        let idle = idle::run()?;
        println!("memory       step 01 idle (subscribed, nothing to launch): {idle:.1} MB RSS");
        results.insert("idle_rss_mb".into(), json!(idle));
    }

    if let Some(parent) = args.json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(
        &args.json,
        serde_json::to_string_pretty(&Value::Object(results))?,
    )?;
    println!("results written to {}", args.json.display());
    Ok(())
}

type Results = serde_json::Map<String, Value>;

fn offer_cycles(args: &Args, results: &mut Results) -> Result<()> {
    // The offer cycle: tasks on agents holding ten each.
    let sizes: &[usize] = match (args.quick, args.huge) {
        (true, _) => &[1_000],
        (false, false) => &[1_000, 10_000],
        (false, true) => &[1_000, 10_000, 100_000],
    };
    let mut schedulers = vec![Scheduler::Step01, Scheduler::Floor];
    if !args.quick && pymesos::available() {
        schedulers.push(Scheduler::Pymesos);
    }
    let mut runs: Vec<Run> = Vec::new();
    for &tasks in sizes {
        for &scheduler in &schedulers {
            if scheduler == Scheduler::Pymesos && tasks > 10_000 {
                continue;
            }
            let run = offer_cycle::run(scheduler, tasks / 10, tasks)?;
            println!(
                "offer cycle  {:<22} {:>6} tasks on {:>5} agents: {:>6.2} s wall, {:>7.1} tasks/s, \
                 scheduler {:>6.3} s CPU ({:.3} ms/task), peak RSS {:>5.1} MB; master {:>6.2} s CPU",
                run.scheduler.name(),
                run.tasks,
                run.agents,
                run.wall_s,
                run.tasks_per_s(),
                run.scheduler_cpu_s,
                run.cpu_per_task_ms(),
                run.scheduler_peak_rss_mb,
                run.master_cpu_s,
            );
            runs.push(run);
        }
    }
    results.insert(
        "offer_cycle".into(),
        Value::Array(runs.iter().map(Run::json).collect()),
    );
    results.insert("ratios".into(), ratios(&runs));
    Ok(())
}

fn executor_runs(args: &Args, results: &mut Results) -> Result<()> {
    // 1,000 tasks on one executor and on 1,000 executors, each a process.
    let tasks = if args.quick { 10 } else { 1_000 };
    let mut runs = Vec::new();
    for kind in [
        executors::Kind::Command,
        executors::Kind::One,
        executors::Kind::Many,
    ] {
        let run = executors::run(kind, tasks)?;
        run.print();
        runs.push(run.json());
    }
    // One executor with one running task, settled: the many-executors case.
    let last = runs.last().cloned().unwrap_or_default();
    let idle = last["executor_rss_mb"].as_f64();
    if let Some(mb) = idle {
        println!(
            "executors    one executor with one running task: {mb:.1} MB RSS, {:.1} MB of it \
             anonymous (the rest: the binary's pages, shared); PSS {:.1} MB (medians)",
            last["executor_rss_anon_mb"].as_f64().unwrap_or(0.0),
            last["executor_pss_mb"].as_f64().unwrap_or(0.0),
        );
    }
    results.insert(
        "executors".into(),
        json!({
            "runs": runs,
            "executor_idle_rss_mb": idle,
            "binary": executors::binary_size()?,
        }),
    );
    Ok(())
}

fn decodings(args: &Args, results: &mut Results) -> Result<()> {
    let decoding = decoding::run(if args.quick { 1_000 } else { 10_000 })?;
    for format in ["protobuf", "json"] {
        let d = &decoding[format];
        println!(
            "decoding     RecordIO + {format:<8}: {:>9.0} events/s, {:>7.1} MB/s ({} events, {} bytes)",
            d["events_per_s"].as_f64().unwrap_or(0.0),
            d["mb_per_s"].as_f64().unwrap_or(0.0),
            d["events"],
            d["stream_bytes"],
        );
    }
    results.insert("decoding".into(), decoding);
    Ok(())
}

fn zookeeper(args: &Args, runtime: &tokio::runtime::Runtime, results: &mut Results) -> Result<()> {
    let (written, recovery): (usize, &[usize]) = if args.quick {
        (200, &[1_000])
    } else {
        (2_000, &[1_000, 10_000])
    };
    let state = runtime.block_on(zk_state::run(written, recovery))?;
    println!(
        "zookeeper    {} task records: {:.0}/s one save per task, {:.0}/s in multi-ops of 1,000; \
         a record is {} bytes of data under a {}-byte name",
        state["tasks_written"],
        state["one_save_per_task_per_s"].as_f64().unwrap_or(0.0),
        state["batches_of_1000_per_s"].as_f64().unwrap_or(0.0),
        state["record_data_bytes"],
        state["record_name_bytes"],
    );
    for r in state["recovery"].as_array().into_iter().flatten() {
        println!(
            "recovery     {} task records read back from ZooKeeper in {:.3} s",
            r["tasks"],
            r["load_s"].as_f64().unwrap_or(0.0)
        );
    }
    results.insert("zookeeper".into(), state);
    Ok(())
}

/// Ours (step 01) against the floor and pymesos, at each size.
fn ratios(runs: &[Run]) -> Value {
    let find =
        |s: Scheduler, tasks: usize| runs.iter().find(|r| r.scheduler == s && r.tasks == tasks);
    let mut ratios = Vec::new();
    for ours in runs.iter().filter(|r| r.scheduler == Scheduler::Step01) {
        let mut entry = json!({"tasks": ours.tasks});
        if let Some(floor) = find(Scheduler::Floor, ours.tasks) {
            entry["cpu_per_task_ours_over_floor"] =
                json!(ours.cpu_per_task_ms() / floor.cpu_per_task_ms());
            println!(
                "ratio        {} tasks: step 01 uses {:.2}× the protocol floor's CPU per task",
                ours.tasks,
                ours.cpu_per_task_ms() / floor.cpu_per_task_ms()
            );
        }
        if let Some(peer) = find(Scheduler::Pymesos, ours.tasks) {
            let cpu = peer.cpu_per_task_ms() / ours.cpu_per_task_ms();
            let throughput = ours.tasks_per_s() / peer.tasks_per_s();
            let rss = ours.scheduler_peak_rss_mb / peer.scheduler_peak_rss_mb;
            entry["pymesos_cpu_per_task_over_ours"] = json!(cpu);
            entry["throughput_ours_over_pymesos"] = json!(throughput);
            entry["peak_rss_ours_over_pymesos"] = json!(rss);
            println!(
                "ratio        {} tasks: pymesos uses {cpu:.1}× our CPU per task; our throughput is \
                 {throughput:.1}× pymesos'; our peak RSS is {rss:.2}× pymesos'",
                ours.tasks
            );
        }
        ratios.push(entry);
    }
    Value::Array(ratios)
}

/// What the figures were measured on.
fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("machine      {cpu}, {cores} cores, Linux {}", kernel.trim());
    json!({"cpu": cpu, "cores": cores, "kernel": kernel.trim()})
}

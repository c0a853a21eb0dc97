//! The protocol floor: the least a scheduler can do to launch tasks, so
//! that a real scheduler's cost can be compared with it. Per task that is
//! its share of one ACCEPT, two status updates decoded (TASK_STARTING and
//! TASK_RUNNING) and two ACKNOWLEDGE calls, on one kept-alive connection,
//! with the kit's `Client` and nothing else: no logging, no state, no
//! driver. `mesos-bench floor` runs it as a process of its own, so that its
//! CPU time can be read like any scheduler's.

use anyhow::{Context, Result, bail};
use mesos::{
    Client, ClientOptions, calls,
    master::{MasterAddr, Scheme},
    offers::{self, OfferPacker, TaskRequirements},
    resources::{self, Resources},
    v1::{FrameworkInfo, scheduler::event},
};

use crate::offer_cycle::{TASK_CPUS, TASK_MEM};

/// Launches `tasks` tasks and acknowledges their updates, until stopped.
pub async fn run(master: &str, tasks: usize) -> Result<()> {
    let client = Client::new(ClientOptions::default());
    let addr =
        MasterAddr::parse_with_default_scheme(master, Scheme::Http).map_err(anyhow::Error::msg)?;
    client.set_master(addr);
    let info = FrameworkInfo {
        user: "root".into(),
        name: "floor".into(),
        ..Default::default()
    };
    let mut subscription = client.subscribe(calls::subscribe(info)).await?;
    let needs = TaskRequirements::new(Resources::from([
        resources::cpus(TASK_CPUS.parse()?),
        resources::mem(TASK_MEM.parse()?),
    ]));
    let mut launched = 0;
    // Until the benchmark stops it: it reads its CPU time from a live process.
    loop {
        let Some(event) = subscription.next_event().await? else {
            bail!("the master closed the stream");
        };
        match event.r#type() {
            event::Type::Subscribed => {
                let id = event.subscribed.context("SUBSCRIBED")?.framework_id;
                client.set_framework_id(Some(id));
            }
            event::Type::Offers => {
                for offer in event.offers.context("OFFERS")?.offers {
                    let mut packer = OfferPacker::new(&offer);
                    let mut infos = Vec::new();
                    while launched < tasks {
                        let Some(allocation) = packer.take(&needs) else {
                            break;
                        };
                        let id = format!("floor-{launched}");
                        let command = offers::command_info_shell("sleep 3600");
                        infos.push(offers::task_info(
                            "floor",
                            id,
                            &offer.agent_id,
                            allocation.resources,
                            command,
                        ));
                        launched += 1;
                    }
                    let call = if infos.is_empty() {
                        calls::decline(vec![offer.id], 30.0)
                    } else {
                        calls::accept(vec![offer.id], vec![calls::launch(infos)], None)
                    };
                    client.call(call).await?;
                }
            }
            event::Type::Update => {
                let status = event.update.context("UPDATE")?.status;
                if let Some(ack) = calls::acknowledge_update(&status) {
                    client.call(ack).await?;
                }
            }
            _ => {}
        }
    }
}

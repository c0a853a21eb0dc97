//! The smallest framework: subscribe, print what the master offers, and
//! decline it all.
//!
//! ```text
//! cargo run -p mesos --example offers                       # simulated master
//! cargo run -p mesos --example offers -- http://10.10.4.2:5050
//! cargo run -p mesos --example offers -- zk://10.10.4.2:2181/mesos
//! ```
//!
//! It shows the protocol's rhythm: SUBSCRIBED, then OFFERS, which we
//! DECLINE (for 10 s, so they come back and there is more to watch), and
//! HEARTBEATs in between. Stop it with Ctrl-C.

use mesos::{
    Driver, DriverConfig, DriverEvent, MasterSpec, Scheduler, calls,
    v1::{
        FrameworkInfo,
        scheduler::{Call, event},
    },
};

/// Declines every offer, after printing it.
struct OfferPrinter;

impl Scheduler for OfferPrinter {
    fn on_event(&mut self, event: &DriverEvent) -> Vec<Call> {
        let DriverEvent::Event(event) = event else {
            println!("disconnected; the driver resubscribes");
            return vec![];
        };
        match event.r#type() {
            event::Type::Subscribed => {
                let subscribed = event
                    .subscribed
                    .as_ref()
                    .expect("SUBSCRIBED has its payload");
                println!("subscribed as framework {}", subscribed.framework_id.value);
                vec![]
            }
            event::Type::Offers => {
                let offers = &event
                    .offers
                    .as_ref()
                    .expect("OFFERS has its payload")
                    .offers;
                for offer in offers {
                    println!("offer {} from {}:", offer.id.value, offer.hostname);
                    for resource in &offer.resources {
                        println!("    {}", mesos::codec::to_json(resource));
                    }
                }
                let ids = offers.iter().map(|offer| offer.id.clone()).collect();
                vec![calls::decline(ids, 10.0)]
            }
            other => {
                println!("{}", other.as_str_name());
                vec![]
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let master: MasterSpec = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("local")
        .parse()?;
    let framework_info = FrameworkInfo {
        // Tasks run as this user on the agents, so it must exist there.
        user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        name: "offer-printer".into(),
        ..Default::default()
    };
    let (driver, mut events) = Driver::start(DriverConfig::new(master, framework_info))?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // An error here means the master made the driver stop (see
    // `DriverEvent::FailedOver` and `DriverEvent::Refused`).
    driver.run(&mut events, &mut OfferPrinter, shutdown).await?;
    Ok(())
}

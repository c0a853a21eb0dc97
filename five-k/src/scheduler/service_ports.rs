//! Service ports: the port clients reach an app on, through a load
//! balancer, whichever agents and host ports its tasks have.
//!
//! An app's port definition of 0 asks 5K to choose one, unique among all
//! apps, from Marathon's range (`--local_port_min`/`--local_port_max`,
//! 10000 to 20000), so that a load balancer can give each app its own
//! port.

use std::collections::BTreeSet;

use crate::app::App;

pub const FIRST: u32 = 10_000;
pub const LAST: u32 = 20_000;

/// Gives each of `app`'s port definitions of 0 a free service port; the
/// ports of `others` are taken. Ports the app already has are kept, so a
/// change to an app does not move its clients.
pub fn assign<'a>(app: &mut App, previous: Option<&App>, others: impl Iterator<Item = &'a App>) {
    let mut taken: BTreeSet<u32> = others
        .flat_map(|other| other.port_definitions.iter().map(|p| p.port))
        .collect();
    taken.extend(app.port_definitions.iter().map(|p| p.port));
    let mut kept = previous
        .map(|previous| {
            previous
                .port_definitions
                .iter()
                .map(|p| p.port)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter();
    let mut next = FIRST;
    for definition in app.port_definitions.iter_mut().filter(|p| p.port == 0) {
        if let Some(port) = kept
            .next()
            .filter(|port| *port != 0 && !taken.contains(port))
        {
            definition.port = port;
            taken.insert(port);
            continue;
        }
        while taken.contains(&next) && next < LAST {
            next += 1;
        }
        if next >= LAST {
            // Out of service ports: the task still gets host ports.
            return;
        }
        definition.port = next;
        taken.insert(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{AppRequest, PathId};

    fn app(id: &str, ports: &str) -> App {
        let request: AppRequest =
            serde_json::from_str(&format!(r#"{{"cmd": "x", "ports": {ports}}}"#)).unwrap();
        App::create(PathId::parse(id), request, "v1")
    }

    #[test]
    fn zero_gets_the_first_free_port_in_marathons_range() {
        let others = [app("/a", "[10000, 10002]")];
        let mut new = app("/b", "[0, 0, 9000]");
        assign(&mut new, None, others.iter());
        let ports: Vec<u32> = new.port_definitions.iter().map(|p| p.port).collect();
        assert_eq!(ports, vec![10001, 10003, 9000]);
    }

    #[test]
    fn a_changed_app_keeps_its_service_ports() {
        let mut before = app("/a", "[0]");
        assign(&mut before, None, [app("/b", "[10000]")].iter());
        let mut after = app("/a", "[0]");
        assign(&mut after, Some(&before), std::iter::empty());
        assert_eq!(
            after.port_definitions[0].port,
            before.port_definitions[0].port
        );
        assert_eq!(after.port_definitions[0].port, 10001);
    }
}

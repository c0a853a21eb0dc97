//! Marathon's `ConstraintsTest.scala` (v1.7), case by case.

use mesos::v1::{Attribute, value};

use super::*;

/// An agent: its host name and attributes in Mesos' syntax, plus Mesos
/// sets (`gpu:{0,1}`), which Marathon's tests use though agents refuse them.
fn agent(hostname: &str, attributes: &str) -> (String, AgentInfo) {
    let attributes = attributes
        .split(';')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, text) = part.split_once(':').unwrap();
            let attribute = match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(items) => set(name, items),
                None => mesos::attributes::parse_one(name, text).unwrap(),
            };
            (name.to_string(), attribute_value(&attribute))
        })
        .collect();
    (
        hostname.to_string(),
        AgentInfo {
            attributes,
            ..Default::default()
        },
    )
}

fn set(name: &str, items: &str) -> Attribute {
    let mut attribute = Attribute {
        name: name.into(),
        set: Some(value::Set {
            item: items.split(',').map(String::from).collect(),
        }),
        ..Default::default()
    };
    attribute.set_type(value::Type::Set);
    attribute
}

fn host(hostname: &str) -> (String, AgentInfo) {
    agent(hostname, "")
}

fn with_attributes(attributes: &str) -> (String, AgentInfo) {
    agent("host", attributes)
}

fn domain(region: &str, zone: &str) -> (String, AgentInfo) {
    let info = AgentInfo {
        region: Some(region.into()),
        zone: Some(zone.into()),
        ..Default::default()
    };
    ("@hostname".into(), info)
}

fn constraint(field: &str, operator: &str, value: &str) -> Constraint {
    let mut parts = vec![field.to_string(), operator.to_string()];
    if !value.is_empty() {
        parts.push(value.to_string());
    }
    Constraint::from_parts(parts)
}

/// Whether an offer from `offer` meets the constraint, with `placed`.
fn meets_with(
    offer: &(String, AgentInfo),
    c: (&str, &str, &str),
    placed: &[&(String, AgentInfo)],
) -> bool {
    let placed: Vec<Placed> = placed
        .iter()
        .map(|(hostname, agent)| Placed { hostname, agent })
        .collect();
    let offer = Placed {
        hostname: &offer.0,
        agent: &offer.1,
    };
    meets(&constraint(c.0, c.1, c.2), &placed, offer)
}

fn meets_alone(offer: &(String, AgentInfo), c: (&str, &str, &str)) -> bool {
    meets_with(offer, c, &[])
}

#[test]
fn unique_host_constraint() {
    let (h1, h2, h3) = (host("host1"), host("host2"), host("host3"));
    assert!(meets_alone(&host("foohost"), ("hostname", "CLUSTER", "")));
    assert!(!meets_alone(
        &host("wrong.com"),
        ("hostname", "CLUSTER", "right.com")
    ));
    assert!(meets_alone(&host("host2"), ("hostname", "UNIQUE", "")));
    let all = [&h1, &h2, &h3];
    assert!(meets_with(&host("host4"), ("hostname", "UNIQUE", ""), &all));
    assert!(!meets_with(
        &host("host2"),
        ("hostname", "UNIQUE", ""),
        &all
    ));
    // `@hostname` is the same field, and operators are read in any case.
    assert!(!meets_with(
        &host("host2"),
        ("@hostname", "unique", ""),
        &all
    ));
}

#[test]
fn generic_property_constraints() {
    let t1 = with_attributes("rackid:rack-1");
    let t3 = with_attributes("rackid:rack-2");
    let rack1 = agent("foohost", "foo:bar;rackid:rack-1");
    let rack2 = agent("foohost", "foo:bar;rackid:rack-2");
    let rack3 = agent("foohost", "foo:bar;rackid:rack-3");
    let cluster = ("rackid", "CLUSTER", "");
    assert!(meets_alone(&rack1, cluster));
    assert!(meets_with(&rack1, cluster, &[&t1, &t1]));
    assert!(!meets_with(&rack2, cluster, &[&t1, &t1]));
    assert!(!meets_alone(&host("foohost"), cluster));
    let unique = ("rackid", "UNIQUE", "");
    assert!(meets_alone(&rack1, unique));
    assert!(meets_with(&rack3, unique, &[&t1, &t3]));
    assert!(!meets_with(&rack1, unique, &[&t1, &t3]));
    assert!(!meets_alone(&host("foohost"), unique));
}

#[test]
fn like_and_unlike_match_the_whole_value_and_only_unlike_a_missing_one() {
    let jdk6 = agent("foohost", "jdk:6");
    let jdk7 = agent("foohost", "jdk:7");
    assert!(!meets_alone(&jdk6, ("jdk", "LIKE", "7")));
    assert!(meets_alone(&jdk7, ("jdk", "LIKE", "7")));
    assert!(!meets_alone(&host("foohost"), ("jdk", "LIKE", "7")));
    assert!(meets_alone(&jdk6, ("jdk", "UNLIKE", "7")));
    assert!(!meets_alone(&jdk7, ("jdk", "UNLIKE", "7")));
    assert!(meets_alone(&host("foohost"), ("jdk", "UNLIKE", "7")));
    // Anchored as Java's `String.matches`: "17" is not LIKE "7".
    assert!(!meets_alone(&agent("h", "jdk:17"), ("jdk", "LIKE", "7")));
    assert!(meets_alone(&agent("h", "jdk:17"), ("jdk", "LIKE", "1?7")));
}

#[test]
fn rack_grouped_by_constraints() {
    let t1 = with_attributes("rackid:rack-1");
    let t3 = with_attributes("rackid:rack-2");
    let rack1 = agent("foohost", "foo:bar;rackid:rack-1");
    let rack2 = agent("foohost", "foo:bar;rackid:rack-2");
    let c = ("rackid", "GROUP_BY", "2");
    assert!(meets_alone(&rack1, c));
    assert!(!meets_with(&rack1, c, &[&t1]));
    assert!(meets_with(&rack2, c, &[&t1]));
    assert!(meets_with(&rack1, c, &[&t1, &t3]));
    assert!(!meets_with(&rack1, c, &[&t1, &t1, &t3]));
    assert!(!meets_alone(&host("foohost"), c));
}

#[test]
fn rack_grouped_by_constraints_2_and_3() {
    for (a, b, c) in [("rack-1", "rack-2", "rack-3"), ("1.0", "2.0", "3.0")] {
        let t1 = with_attributes(&format!("rackid:{a}"));
        let t2 = with_attributes(&format!("rackid:{b}"));
        let t3 = with_attributes(&format!("rackid:{c}"));
        // Offers spell scalars differently ("1"): formatted alike.
        let offer = |v: &str| {
            agent(
                "foohost",
                &format!("foo:bar;rackid:{}", v.replace(".0", "")),
            )
        };
        let g = ("rackid", "GROUP_BY", "3");
        assert!(meets_alone(&offer(a), g));
        assert!(meets_with(&offer(b), g, &[&t1]));
        assert!(meets_with(&offer(c), g, &[&t1, &t2]));
        assert!(meets_with(&offer(a), g, &[&t1, &t2, &t3]));
        assert!(meets_with(&offer(b), g, &[&t1, &t2, &t3, &t1]));
        assert!(!meets_with(&offer(b), g, &[&t1, &t2, &t3, &t1, &t2]));
    }
}

#[test]
fn hostname_grouped_by_constraints() {
    let (h1, h2, h3) = (host("host1"), host("host2"), host("host3"));
    let g = ("hostname", "GROUP_BY", "2");
    assert!(meets_alone(&h1, g), "a fresh host");
    assert!(!meets_with(&h1, g, &[&h1]));
    assert!(meets_with(&h2, g, &[&h1]));
    assert!(meets_with(&h1, g, &[&h1, &h2]));
    assert!(!meets_with(&h1, g, &[&h1, &h2, &h1]));
    assert!(meets_with(&h3, g, &[&h1, &h2, &h1]));
    let four = [&h1, &h2, &h1, &h3];
    assert!(!meets_with(&h1, g, &four));
    assert!(meets_with(&h3, g, &four));
    assert!(meets_with(&h2, g, &four));
}

#[test]
fn hostname_max_per_constraints() {
    let (h1, h2, h3) = (host("host1"), host("host2"), host("host3"));
    let m = ("hostname", "MAX_PER", "2");
    assert!(meets_alone(&h1, m));
    assert!(meets_with(&h1, m, &[&h1]));
    assert!(meets_with(&h2, m, &[&h1, &h1]));
    assert!(!meets_with(&h1, m, &[&h1, &h1, &h2]));
    assert!(meets_with(&h3, m, &[&h1, &h1, &h2, &h1]));
}

#[test]
fn rack_max_per_constraints() {
    let r1 = with_attributes("rackid:1.0");
    let r2 = with_attributes("rackid:2.0");
    let offer = |rack: &str| agent("foohost", &format!("foo:bar;rackid:{rack}"));
    let m = ("rackid", "MAX_PER", "2");
    assert!(meets_alone(&offer("1"), m));
    assert!(meets_with(&offer("2"), m, &[&r1]));
    assert!(meets_with(&offer("1"), m, &[&r1, &r2]));
    assert!(!meets_with(&offer("1"), m, &[&r1, &r2, &r1]));
}

#[test]
fn attribute_types_text_scalar_range_and_set() {
    let fresh = [
        &with_attributes("foo:bar"),
        &with_attributes("jdk:7"),
        &with_attributes("jdk:[6-7]"),
        &agent("host", "gpu:{0,1}"),
    ];
    let m = |offer: &str, c: (&str, &str, &str)| meets_with(&agent("foohost", offer), c, &fresh);
    let only = |placed: &(String, AgentInfo), offer: &str, c: (&str, &str, &str)| {
        meets_with(&agent("foohost", offer), c, &[placed])
    };
    assert!(!m("jdk:6", ("jdk", "LIKE", "7")));
    assert!(m("jdk:7", ("jdk", "LIKE", "7")));
    assert!(!only(fresh[1], "jdk:6", ("jdk", "CLUSTER", "7")));
    assert!(only(fresh[1], "jdk:7", ("jdk", "CLUSTER", "7")));
    assert!(!m("", ("jdk", "LIKE", "7")));
    assert!(!m("jdk:7", ("jdk", "UNLIKE", "7")));
    assert!(m("jdk:6", ("jdk", "UNLIKE", "7")));
    assert!(m("", ("jdk", "UNLIKE", "7")));
    // Ranges read `[6-7]`.
    assert!(!m("jdk:[5-7]", ("jdk", "LIKE", r"\[6-7\]")));
    assert!(m("jdk:[6-7]", ("jdk", "LIKE", r"\[6-7\]")));
    assert!(!only(fresh[2], "jdk:[5-7]", ("jdk", "CLUSTER", "[6-7]")));
    assert!(only(fresh[2], "jdk:[6-7]", ("jdk", "CLUSTER", "[6-7]")));
    assert!(!m("", ("jdk", "LIKE", r"\[6-7\]")));
    assert!(!m("jdk:[6-7]", ("jdk", "UNLIKE", r"\[6-7\]")));
    assert!(m("jdk:5-7", ("jdk", "UNLIKE", r"\[6-7\]")));
    assert!(m("", ("jdk", "UNLIKE", r"\[6-7\]")));
    // Sets read `{0,1}`, sorted.
    assert!(!m("gpu:{2,1}", ("gpu", "LIKE", r"\{0,1\}")));
    assert!(m("gpu:{1,0}", ("gpu", "LIKE", r"\{0,1\}")));
    assert!(!only(fresh[3], "jdk:{2,1}", ("gpu", "CLUSTER", "{0,1}")));
    assert!(only(fresh[3], "gpu:{0,1}", ("gpu", "CLUSTER", "{0,1}")));
    assert!(!m("", ("gpu", "LIKE", r"\{0,1\}")));
    assert!(!m("gpu:{0,1}", ("gpu", "UNLIKE", r"\{0,1\}")));
    assert!(m("gpu:{1,2}", ("gpu", "UNLIKE", r"\{0,1\}")));
    assert!(m("", ("gpu", "UNLIKE", r"\{0,1\}")));
}

#[test]
fn region_and_zone_read_the_fault_domain() {
    let on_region1 = domain("region1", "zone1");
    let unique_region = ("@region", "UNIQUE", "");
    assert!(!meets_with(
        &domain("region1", "zone"),
        unique_region,
        &[&on_region1]
    ));
    assert!(meets_with(
        &domain("region2", "zone"),
        unique_region,
        &[&on_region1]
    ));
    let on_zone1 = domain("region", "zone1");
    let unique_zone = ("@zone", "UNIQUE", "");
    assert!(!meets_with(
        &domain("region", "zone1"),
        unique_zone,
        &[&on_zone1]
    ));
    assert!(meets_with(
        &domain("region", "zone2"),
        unique_zone,
        &[&on_zone1]
    ));
    // An agent with no fault domain has no region: only UNLIKE matches.
    assert!(!meets_alone(&host("h"), ("@region", "IS", "region1")));
    assert!(meets_alone(&host("h"), ("@region", "UNLIKE", "region1")));
}

#[test]
fn is_requires_an_exact_match_of_formatted_scalars() {
    assert!(meets_alone(
        &host("righthost.com"),
        ("hostname", "IS", "righthost.com")
    ));
    assert!(!meets_alone(
        &host("wronghost.com"),
        ("hostname", "IS", "righthost.com")
    ));
    assert!(meets_alone(
        &agent("host", "number:1"),
        ("number", "IS", "1.0")
    ));
    assert!(meets_alone(
        &agent("host", "number:1.0"),
        ("number", "IS", "1")
    ));
    assert!(meets_alone(
        &agent("host", "number:1.0"),
        ("number", "IS", "1.0001")
    ));
    assert!(meets_alone(
        &agent("host", "number:1.0"),
        ("number", "IS", "1.0005")
    ));
    assert!(!meets_alone(
        &agent("host", "number:1.0"),
        ("number", "IS", "1.00051")
    ));
    assert!(!meets_alone(
        &agent("host", "number:1.0"),
        ("number", "IS", "1.001")
    ));
}

#[test]
fn scalars_are_formatted_as_javas_decimal_format() {
    assert_eq!(format_scalar(1.0), "1");
    assert_eq!(format_scalar(2.5), "2.5");
    assert_eq!(format_scalar(1.1005), "1.101");
    assert_eq!(format_scalar(0.0), "0");
}

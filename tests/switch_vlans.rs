//! The emulated switch's VLANs seen from outside: frames sent with `mvlab gen` into the shipped
//! `switch-vlans` and `switch-native-vlan` labs, captured by tcpdump on the receiving stations,
//! must carry the tag (or no tag) each port's membership gives them and never reach a port of
//! another VLAN; the switch's own counters must agree. Needs root; fails without it.

mod lab_support;
mod switch_support;

use lab_support::{load, mvlab, require_root, unique};
use mvlab::lab::{Lab, LabOptions};
use mvlab::scenario::Scenario;
use mvlab::switch::DropReason;
use switch_support::{Tap, from};

struct Running {
    lab: Lab,
    scenario: Scenario,
}

impl Running {
    fn up(name: &str) -> Running {
        require_root();
        let scenario = load(name);
        let lab = Lab::up(
            &scenario,
            LabOptions {
                name: Some(unique("swv")),
                prefix: "mvtest".into(),
                ..LabOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Running { lab, scenario }
    }

    fn netns(&self, node: &str) -> String {
        self.lab.node(node).unwrap().inventory.netns.clone()
    }

    fn mac(&self, station: &str) -> String {
        self.scenario
            .stations()
            .into_iter()
            .find(|s| s.name == station)
            .unwrap()
            .mac
            .to_string()
    }

    /// `count` broadcast frames from `station`, tagged with `vlan` when given.
    fn send(&self, station: &str, vlan: Option<u16>, count: u32) {
        let mut cmd = mvlab();
        cmd.args(["gen", "--netns", &self.netns(station), "--iface", "eth0"])
            .args(["--dst", "ff:ff:ff:ff:ff:ff", "--count", &count.to_string()]);
        if let Some(v) = vlan {
            cmd.args(["--vlan", &v.to_string()]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn outer_vlan(line: &str) -> Option<u16> {
    let rest = line.split_once(": vlan ")?.1;
    rest.split(',').next()?.trim().parse().ok()
}

#[test]
fn a_trunk_and_an_access_port_keep_vlans_apart() {
    let r = Running::up("switch-vlans");
    let (redtrunk, blueaccess, blue1) = (
        Tap::start(&r.netns("redtrunk"), &unique("redtrunk")),
        Tap::start(&r.netns("blueaccess"), &unique("blueaccess")),
        Tap::start(&r.netns("blue1"), &unique("blue1")),
    );
    r.send("red1", Some(10), 5);
    r.send("blue1", Some(20), 7);
    r.send("blueaccess", None, 3);
    let (redtrunk, blueaccess, blue1) = (redtrunk.frames(), blueaccess.frames(), blue1.frames());
    let (red1_mac, blue1_mac, access_mac) = (r.mac("red1"), r.mac("blue1"), r.mac("blueaccess"));

    // VLAN 10 leaves trunk p2 tagged 10; VLAN 20 never reaches it.
    let red = from(&redtrunk, &red1_mac);
    assert_eq!(red.len(), 5, "{redtrunk:#?}");
    assert!(red.iter().all(|l| outer_vlan(l) == Some(10)), "{red:#?}");
    assert!(from(&redtrunk, &blue1_mac).is_empty(), "{redtrunk:#?}");
    assert!(from(&redtrunk, &access_mac).is_empty(), "{redtrunk:#?}");
    // VLAN 20 leaves access port p3 untagged; VLAN 10 never reaches it.
    let blue = from(&blueaccess, &blue1_mac);
    assert_eq!(blue.len(), 7, "{blueaccess:#?}");
    assert!(
        blue.iter()
            .all(|l| outer_vlan(l).is_none() && l.contains("0x88b5")),
        "{blue:#?}"
    );
    assert!(from(&blueaccess, &red1_mac).is_empty(), "{blueaccess:#?}");
    // The access peer's untagged frames reach the blue endpoint over the trunk, tagged 20.
    let access = from(&blue1, &access_mac);
    assert_eq!(access.len(), 3, "{blue1:#?}");
    assert!(
        access.iter().all(|l| outer_vlan(l) == Some(20)),
        "{access:#?}"
    );

    let report = r.lab.switch_report().unwrap().unwrap();
    assert!(report.vlan_aware);
    let vlan = |vid| report.vlans.iter().find(|v| v.vid == vid).unwrap();
    assert_eq!(vlan(10).rx_frames, 5);
    assert_eq!(vlan(20).rx_frames, 10);
    assert_eq!(report.dropped, 0);
    r.lab.down().unwrap();
}

#[test]
fn a_native_vlan_carries_untagged_frames_and_drops_foreign_tags() {
    let r = Running::up("switch-native-vlan");
    let (desk, pbx) = (
        Tap::start(&r.netns("desk"), &unique("desk")),
        Tap::start(&r.netns("pbx"), &unique("pbx")),
    );
    r.send("e1", None, 4);
    r.send("e1", Some(100), 6);
    r.send("phone", Some(20), 2);
    let (desk, pbx) = (desk.frames(), pbx.frames());
    let e1 = from(&desk, &r.mac("e1"));
    assert_eq!(
        e1.len(),
        4,
        "native VLAN 10 reaches the desk untagged: {desk:#?}"
    );
    assert!(e1.iter().all(|l| outer_vlan(l).is_none()), "{e1:#?}");
    assert!(from(&pbx, &r.mac("e1")).is_empty(), "{pbx:#?}");
    let phone = from(&pbx, &r.mac("phone"));
    assert_eq!(phone.len(), 2, "{pbx:#?}");
    assert!(
        phone.iter().all(|l| outer_vlan(l) == Some(20)),
        "{phone:#?}"
    );
    assert!(from(&desk, &r.mac("phone")).is_empty(), "{desk:#?}");

    let report = r.lab.switch_report().unwrap().unwrap();
    let trunk = report.port("p0").unwrap();
    assert_eq!(
        trunk.drops(DropReason::VlanNotAllowed),
        6,
        "VLAN 100 is not on the trunk"
    );
    assert_eq!(report.dropped, 6);
    r.lab.down().unwrap();
}

#[test]
fn outer_802_1ad_tags_pass_or_drop_per_port() {
    require_root();
    let text = r#"
[switch]
kind = "emulated"
[[parents]]
port = { outer_tags = "drop" }
[[networks]]
mode = "vepa"
[[peers]]
name = "a"
[[peers]]
name = "b"
"#;
    let scenario = mvlab::scenario::parse(mvlab::diag::Source::new("qinq.toml", text)).unwrap();
    let lab = Lab::up(
        &scenario,
        LabOptions {
            name: Some(unique("swq")),
            prefix: "mvtest".into(),
            ..LabOptions::default()
        },
    )
    .unwrap();
    let r = Running { lab, scenario };
    let b = Tap::start(&r.netns("b"), &unique("b"));
    let qinq = |station: &str, count: &str| {
        let out = mvlab()
            .args(["gen", "--netns", &r.netns(station), "--iface", "eth0"])
            .args(["--dst", "ff:ff:ff:ff:ff:ff", "--count", count])
            .args(["--vlan", "300", "--vlan", "7"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    qinq("e1", "4");
    qinq("a", "3");
    let b = b.frames();
    assert!(
        from(&b, &r.mac("e1")).is_empty(),
        "p0 drops S-tagged frames: {b:#?}"
    );
    let passed = from(&b, &r.mac("a"));
    assert_eq!(passed.len(), 3, "{b:#?}");
    assert!(
        passed
            .iter()
            .all(|l| l.contains("802.1Q-QinQ") || l.contains("0x88a8")),
        "{passed:#?}"
    );
    let report = r.lab.switch_report().unwrap().unwrap();
    assert_eq!(report.port("p0").unwrap().drops(DropReason::OuterTag), 4);
    r.lab.down().unwrap();
}

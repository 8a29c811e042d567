//! mvlab's `[cni]` held to Debian's CNI macvlan plugin with host-local IPAM
//! (containernetworking-plugins 1.1.1), invoked by hand as a runtime would (`CNI_COMMAND=ADD`,
//! the netconf on standard input) from a throwaway namespace holding the master, one throwaway
//! namespace per container: each netconf goes through `mvlab import`, and the addresses,
//! gateways, default routes and refusals of the plugin must be those mvlab predicts. host-local
//! hands out round-robin after the last address it reserved (`last_reserved_ip.N`); a fresh data
//! directory per case is what the scenario models. Needs root.

use std::io::Write;
use std::process::{Command, Stdio};

use mvlab::diag::Source;
use serde_json::{Value, json};

const PLUGIN: &str = "/usr/lib/cni/macvlan";

/// The host namespace (with the master `up0`), the containers' namespaces and the data
/// directories of one run; all removed when dropped, on every exit path.
struct Bench {
    host: String,
    dir: std::path::PathBuf,
    containers: Vec<String>,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl Bench {
    fn new() -> Bench {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the CNI tests build namespaces and must run as root"
        );
        assert!(
            std::path::Path::new(PLUGIN).exists(),
            "{PLUGIN} (scripts/setup installs containernetworking-plugins)"
        );
        let id = std::process::id();
        let b = Bench {
            host: format!("mvtest-cni-{id}"),
            dir: std::env::temp_dir().join(format!("mvtest-cni-{id}")),
            containers: Vec::new(),
        };
        std::fs::create_dir_all(&b.dir).unwrap();
        assert!(ip(&["netns", "add", &b.host]));
        assert!(ip(&[
            "-n", &b.host, "link", "add", "up0", "type", "veth", "peer", "name", "up0p"
        ]));
        for l in ["lo", "up0", "up0p"] {
            assert!(ip(&["-n", &b.host, "link", "set", l, "up"]));
        }
        b
    }

    /// One ADD into a new container namespace: the plugin's result, or its error message.
    fn add(
        &mut self,
        netconf: &Value,
        case: usize,
        container: &str,
        args: Option<&str>,
    ) -> (String, Result<Value, String>) {
        let ns = format!("{}-{case}-{container}", self.host);
        assert!(ip(&["netns", "add", &ns]));
        self.containers.push(ns.clone());
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.host))
            .arg("env")
            .arg("CNI_COMMAND=ADD")
            .arg(format!("CNI_CONTAINERID={case}-{container}"))
            .arg(format!("CNI_NETNS=/run/netns/{ns}"))
            .arg("CNI_IFNAME=eth0")
            .arg("CNI_PATH=/usr/lib/cni");
        if let Some(a) = args {
            cmd.arg(format!("CNI_ARGS={a}"));
        }
        let mut child = cmd
            .arg(PLUGIN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(netconf.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let result = if out.status.success() {
            Ok(v)
        } else {
            Err(v["msg"].as_str().unwrap_or("no answer").to_string())
        };
        (ns, result)
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        for ns in self.containers.drain(..) {
            ip(&["netns", "del", &ns]);
        }
        ip(&["netns", "del", &self.host]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The default route's next hop inside a namespace (`-4` or `-6`).
fn default_via(ns: &str, family: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["-j", "-n", ns, family, "route", "show", "default"])
        .output()
        .ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v.as_array()?.first()?["gateway"]
        .as_str()
        .map(str::to_string)
}

/// A case: a netconf, its containers (name, a requested IPv4 address) in order.
struct Case {
    what: &'static str,
    netconf: Value,
    containers: Vec<(&'static str, Option<&'static str>)>,
}

fn netconf(mode: &str, ipam: Value) -> Value {
    json!({ "cniVersion": "1.0.0", "name": "macnet", "type": "macvlan", "master": "up0", "mode": mode, "ipam": ipam })
}

fn cases() -> Vec<Case> {
    let dynamic = |n: usize| -> Vec<(&'static str, Option<&'static str>)> {
        ["c1", "c2", "c3", "c4"][..n]
            .iter()
            .map(|c| (*c, None))
            .collect()
    };
    vec![
        Case {
            what: "a subnet alone, with the default route",
            netconf: netconf(
                "bridge",
                json!({"type": "host-local", "subnet": "198.18.70.0/24", "routes": [{"dst": "0.0.0.0/0"}]}),
            ),
            containers: dynamic(3),
        },
        Case {
            what: "a range of two runs dry",
            netconf: netconf(
                "bridge",
                json!({"type": "host-local", "subnet": "198.18.71.0/24", "rangeStart": "198.18.71.10", "rangeEnd": "198.18.71.11"}),
            ),
            containers: dynamic(3),
        },
        Case {
            what: "the gateway inside the range is skipped",
            netconf: netconf(
                "vepa",
                json!({"type": "host-local", "subnet": "198.18.72.0/24", "rangeStart": "198.18.72.1", "rangeEnd": "198.18.72.3", "gateway": "198.18.72.2"}),
            ),
            containers: dynamic(3),
        },
        Case {
            what: "two ranges of one set, in order",
            netconf: netconf(
                "bridge",
                json!({"type": "host-local", "ranges": [[{"subnet": "198.18.80.0/30"}, {"subnet": "198.18.81.0/30"}]]}),
            ),
            containers: dynamic(3),
        },
        Case {
            what: "an IPv4 and an IPv6 range set",
            netconf: netconf(
                "private",
                json!({"type": "host-local", "ranges": [[{"subnet": "198.18.76.0/24"}], [{"subnet": "2001:2:0:76::/64"}]], "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}),
            ),
            containers: dynamic(2),
        },
        Case {
            what: "a range on the network address",
            netconf: netconf(
                "bridge",
                json!({"type": "host-local", "subnet": "198.18.79.0/24", "rangeStart": "198.18.79.0", "rangeEnd": "198.18.79.0"}),
            ),
            containers: dynamic(2),
        },
        Case {
            what: "requested addresses, the gateway and a taken one",
            netconf: netconf(
                "bridge",
                json!({"type": "host-local", "subnet": "198.18.73.0/24"}),
            ),
            containers: vec![
                ("c1", Some("198.18.73.50")),
                ("c2", None),
                ("c3", Some("198.18.73.1")),
                ("c4", Some("198.18.73.50")),
            ],
        },
    ]
}

/// The container a diagnostic of the scenario `text` is about (its entry's `name`).
fn owner(text: &str, line: usize) -> String {
    text.lines()
        .take(line)
        .filter_map(|l| l.strip_prefix("name = "))
        .last()
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

#[test]
fn the_cni_macvlan_plugin_hands_out_and_refuses_what_mvlab_predicts() {
    let mut bench = Bench::new();
    let (mut adds, mut refusals, mut failures) = (0, 0, Vec::new());
    for (k, case) in cases().into_iter().enumerate() {
        let mut conf = case.netconf.clone();
        conf["ipam"]["dataDir"] = json!(bench.dir.join(format!("data-{k}")).display().to_string());
        // mvlab: the netconf imported, with the case's containers.
        let imported = mvlab::import::import(
            &Source::new("macnet.conf", case.netconf.to_string()),
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.what));
        let mut text = imported.replace(
            "# a netconf names no containers: mvlab's default of two endpoints\n",
            "",
        );
        for (name, ip) in &case.containers {
            text += &format!("[[networks.endpoints]]\nname = \"{name}\"\n");
            if let Some(ip) = ip {
                text += &format!("ip = \"{ip}\"\n");
            }
        }
        let predicted = mvlab::scenario::parse(Source::new("cni.toml", text.clone()));
        let refused: Vec<(String, String)> = match &predicted {
            Ok(_) => Vec::new(),
            Err(d) => {
                d.0.iter()
                    .map(|d| (owner(&text, d.location().unwrap().1), d.message.clone()))
                    .collect()
            }
        };
        // The plugin, container by container.
        let mut got_refused = Vec::new();
        for (name, want_ip) in &case.containers {
            adds += 1;
            let args = want_ip.map(|a| format!("IgnoreUnknown=1;IP={a}"));
            let (ns, result) = bench.add(&conf, k, name, args.as_deref());
            let r = match result {
                Err(msg) => {
                    got_refused.push((name.to_string(), msg));
                    continue;
                }
                Ok(r) => r,
            };
            let Ok(s) = &predicted else { continue };
            let Some(e) = s.endpoint(name) else {
                failures.push(format!(
                    "{}: the plugin gave {name} {r}, mvlab predicts a refusal",
                    case.what
                ));
                continue;
            };
            let mut theirs: Vec<String> = r["ips"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| i["address"].as_str().unwrap_or_default().to_string())
                .collect();
            let net = &s.networks[e.network];
            let mut mine: Vec<String> = e
                .ipv4
                .map(|a| format!("{a}/{}", net.ipam4_of(a).subnet.prefix()))
                .into_iter()
                .chain(
                    e.ipv6
                        .and_then(|a| Some(format!("{a}/{}", net.ipam6_of(a)?.subnet.prefix()))),
                )
                .collect();
            theirs.sort();
            mine.sort();
            if theirs != mine {
                failures.push(format!(
                    "{}: {name} got {theirs:?}, mvlab predicts {mine:?}",
                    case.what
                ));
            }
            for (family, predicted) in [
                ("-4", e.gateway4.map(|g| g.to_string())),
                ("-6", e.gateway6.map(|g| g.to_string())),
            ] {
                let route = default_via(&ns, family);
                if route != predicted {
                    failures.push(format!("{}: {name}'s {family} default route is {route:?}, mvlab predicts {predicted:?}", case.what));
                }
            }
        }
        refusals += got_refused.len();
        if refused != got_refused {
            failures.push(format!(
                "{}: the plugin refused {got_refused:?}, mvlab {refused:?}\n{text}",
                case.what
            ));
        }
    }
    eprintln!(
        "cni macvlan + host-local: {} netconfs, {adds} ADDs, {refusals} refusals; {} differences",
        cases().len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! A shell file of docker commands: `docker network create` (`-d macvlan`, `--subnet`,
//! `--ip-range`, `--gateway`, `--aux-address`, `-o parent=` / `macvlan_mode=`, `--ipv6`,
//! `--ipv4`, `--internal`), `docker run` / `docker create` (`--network`, `--ip`, `--ip6`,
//! `--mac-address`, `--name`) and `docker network connect`. Words are split as a POSIX shell
//! does (quotes, backslashes, line continuations, comments, `;` and `&&`); variables are not
//! expanded. Each `--ip-range`, `--gateway` and `--aux-address` joins the `--subnet` that holds
//! it, as the docker CLI pairs them (docker/cli v20.10.24:cli/command/network/create.go:133-248),
//! and is refused in the CLI's words when none does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnetwork::IpNetwork;

use super::{At, Container, Engine, Imported, Network, Pool, node_name};
use crate::addr::MacAddr;
use crate::diag::{Diagnostic, Diagnostics, Source, Span};

/// Whether the text reads as docker commands rather than YAML or JSON.
pub fn looks_like(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start().trim_start_matches("sudo ").trim_start();
        l.starts_with("docker ")
            && (l.contains(" run ") || l.contains("network ") || l.contains(" create "))
    })
}

/// A word and where it was written.
type Word = At<String>;

/// Splits `text` into commands of words.
fn commands(text: &str) -> Result<Vec<Vec<Word>>, (String, Span)> {
    let mut out = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let mut word: Option<(String, usize)> = None;
    let mut chars = text.char_indices().peekable();
    let end_word = |word: &mut Option<(String, usize)>, words: &mut Vec<Word>, at: usize| {
        if let Some((w, start)) = word.take() {
            words.push(At::new(w, start..at));
        }
    };
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '\n')) => end_word(&mut word, &mut words, i),
                Some((_, n)) => word.get_or_insert((String::new(), i)).0.push(n),
                None => {}
            },
            '\'' | '"' => {
                let w = word.get_or_insert((String::new(), i));
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, '\\')) if c == '"' => {
                            if let Some((_, n)) = chars.next() {
                                w.0.push(n);
                            }
                        }
                        Some((_, n)) => w.0.push(n),
                        None => return Err(("this quote is never closed".into(), i..i + 1)),
                    }
                }
            }
            '#' if word.is_none() => {
                while chars.peek().is_some_and(|(_, n)| *n != '\n') {
                    chars.next();
                }
            }
            '\n' | ';' => {
                end_word(&mut word, &mut words, i);
                out.push(std::mem::take(&mut words));
            }
            '&' if chars.peek().is_some_and(|(_, n)| *n == '&') => {
                chars.next();
                end_word(&mut word, &mut words, i);
                out.push(std::mem::take(&mut words));
            }
            c if c.is_whitespace() => end_word(&mut word, &mut words, i),
            c => word.get_or_insert((String::new(), i)).0.push(c),
        }
    }
    end_word(&mut word, &mut words, text.len());
    out.push(words);
    Ok(out.into_iter().filter(|w| !w.is_empty()).collect())
}

/// `docker run` / `docker create` flags that take a value (the rest are switches).
const RUN_VALUES: &[&str] = &[
    "-a",
    "--attach",
    "--add-host",
    "--annotation",
    "--blkio-weight",
    "--cap-add",
    "--cap-drop",
    "--cgroup-parent",
    "--cgroupns",
    "--cidfile",
    "--cpu-period",
    "--cpu-quota",
    "--cpu-rt-period",
    "--cpu-rt-runtime",
    "-c",
    "--cpu-shares",
    "--cpus",
    "--cpuset-cpus",
    "--cpuset-mems",
    "--device",
    "--device-cgroup-rule",
    "--dns",
    "--dns-option",
    "--dns-search",
    "--domainname",
    "--entrypoint",
    "-e",
    "--env",
    "--env-file",
    "--expose",
    "--gpus",
    "--group-add",
    "--health-cmd",
    "--health-interval",
    "--health-retries",
    "--health-start-period",
    "--health-timeout",
    "-h",
    "--hostname",
    "--ip",
    "--ip6",
    "--ipc",
    "--isolation",
    "--kernel-memory",
    "-l",
    "--label",
    "--label-file",
    "--link",
    "--link-local-ip",
    "--log-driver",
    "--log-opt",
    "--mac-address",
    "-m",
    "--memory",
    "--memory-reservation",
    "--memory-swap",
    "--memory-swappiness",
    "--mount",
    "--name",
    "--net",
    "--network",
    "--network-alias",
    "--net-alias",
    "--oom-score-adj",
    "--pid",
    "--pids-limit",
    "--platform",
    "-p",
    "--publish",
    "--pull",
    "--restart",
    "--runtime",
    "--security-opt",
    "--shm-size",
    "--stop-signal",
    "--stop-timeout",
    "--storage-opt",
    "--sysctl",
    "--tmpfs",
    "-u",
    "--user",
    "--userns",
    "--uts",
    "-v",
    "--volume",
    "--volume-driver",
    "--volumes-from",
    "-w",
    "--workdir",
    "--ulimit",
];

/// `docker network create` flags that take a value.
const CREATE_VALUES: &[&str] = &[
    "-d",
    "--driver",
    "--subnet",
    "--ip-range",
    "--gateway",
    "--aux-address",
    "-o",
    "--opt",
    "--label",
    "--scope",
    "--config-from",
    "--ipam-driver",
    "--ipam-opt",
];

/// A command's flags (name, value when it takes one) and its positional words.
struct Parsed {
    flags: Vec<(Word, Option<Word>)>,
    args: Vec<Word>,
}

/// Reads flags until the first positional word (and, with `stop_at_first`, keeps every later
/// word as positional: a container's command).
fn flags(words: &[Word], valued: &[&str], stop_at_first: bool) -> Parsed {
    let mut out = Parsed {
        flags: Vec::new(),
        args: Vec::new(),
    };
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if !out.args.is_empty() && stop_at_first {
            out.args.push(w.clone());
            continue;
        }
        if w.value.starts_with('-') && w.value.len() > 1 {
            match w.value.split_once('=') {
                Some((name, value)) => {
                    let at = w.span.start + name.len() + 1;
                    out.flags.push((
                        At::new(name.to_string(), w.span.start..at - 1),
                        Some(At::new(value.to_string(), at..w.span.end)),
                    ));
                }
                None if valued.contains(&w.value.as_str()) => {
                    out.flags.push((w.clone(), it.next().cloned()));
                }
                None => out.flags.push((w.clone(), None)),
            }
        } else {
            out.args.push(w.clone());
        }
    }
    out
}

struct Reading {
    source: Arc<Source>,
    diags: Diagnostics,
    networks: Vec<Network>,
    notes: Vec<String>,
    unnamed: usize,
}

impl Reading {
    fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(&self.source, span, message).hint(hint));
    }

    fn value<T: std::str::FromStr>(
        &mut self,
        w: &Word,
        what: &str,
        example: &str,
    ) -> Option<At<T>> {
        match w.value.parse() {
            Ok(v) => Some(At::new(v, w.span.clone())),
            Err(_) => {
                self.error(
                    w.span.clone(),
                    format!("`{}` is not {what}", w.value),
                    format!("write it like {example}"),
                );
                None
            }
        }
    }

    fn network_create(&mut self, words: &[Word], at: Span) {
        let p = flags(words, CREATE_VALUES, false);
        let Some(name) = p.args.last() else {
            self.error(
                at,
                "`docker network create` needs a network name",
                "add the name at the end",
            );
            return;
        };
        let mut net = Network {
            name: node_name(&name.value),
            parent: None,
            mode: None,
            internal: false,
            enable_ipv4: None,
            enable_ipv6: None,
            pools: Vec::new(),
            routes: Vec::new(),
            containers: Vec::new(),
            span: name.span.clone(),
        };
        let (mut driver, mut ranges, mut gateways, mut aux) =
            ("bridge".to_string(), Vec::new(), Vec::new(), Vec::new());
        for (flag, value) in &p.flags {
            let on = |v: &Option<Word>| v.as_ref().is_none_or(|v| v.value == "true");
            match (flag.value.as_str(), value) {
                ("-d" | "--driver", Some(v)) => driver = v.value.clone(),
                ("--subnet", Some(v)) => {
                    let subnet = self.value::<IpNetwork>(v, "a subnet", "192.168.1.0/24");
                    net.pools.push(Pool { subnet, ..Pool::default() });
                }
                ("--ip-range", Some(v)) => ranges.extend(self.value::<IpNetwork>(v, "an ip-range", "192.168.1.128/25")),
                ("--gateway", Some(v)) => gateways.extend(self.value::<IpAddr>(v, "a gateway address", "192.168.1.1")),
                ("--aux-address", Some(v)) => match v.value.split_once('=') {
                    Some((name, ip)) => {
                        let w = At::new(ip.to_string(), v.span.start + name.len() + 1..v.span.end);
                        aux.extend(self.value::<IpAddr>(&w, "an aux address", "router=192.168.1.2").map(|a| (name.to_string(), a)));
                    }
                    None => self.error(v.span.clone(), format!("`{}` is not NAME=ADDRESS", v.value), "write it like router=192.168.1.2"),
                },
                ("-o" | "--opt", Some(v)) => match v.value.split_once('=') {
                    Some(("parent", p)) => net.parent = Some(At::new(p.to_string(), v.span.clone())),
                    Some(("macvlan_mode", m)) => net.mode = Some(At::new(m.to_string(), v.span.clone())),
                    Some((k, _)) => self.notes.push(format!("network `{}`: driver option `{k}` is stored and ignored by Docker's macvlan driver", net.name)),
                    None => self.error(v.span.clone(), format!("`{}` is not KEY=VALUE", v.value), "write it like parent=eth0"),
                },
                ("--ipv6", v) => net.enable_ipv6 = Some(on(v)),
                ("--ipv4", v) => net.enable_ipv4 = Some(on(v)),
                ("--internal", v) => net.internal = on(v),
                _ => {}
            }
        }
        if driver != "macvlan" {
            self.notes.push(format!(
                "network `{}` uses the {driver} driver, not macvlan: left out",
                net.name
            ));
            return;
        }
        self.pair(&mut net, ranges, gateways, aux);
        self.networks.push(net);
    }

    /// Gives each of `items` (--ip-range or --gateway) to the one slot of the --subnet that holds
    /// it, in Docker's words when the subnet has one already or none holds it. `words`: the
    /// refusal of a second one, how it relates to the subnet, its hint, and the item's name.
    fn place<T: std::fmt::Display>(
        &mut self,
        net: &mut Network,
        items: Vec<At<T>>,
        addr: impl Fn(&T) -> IpAddr,
        slot: impl Fn(&mut Pool) -> &mut Option<At<T>>,
        [twice, relation, hint, what]: [&str; 4],
    ) {
        for item in items {
            let a = addr(&item.value);
            let held = net
                .pools
                .iter()
                .position(|p| p.subnet.as_ref().is_some_and(|s| s.value.contains(a)));
            let Some(i) = held else {
                self.error(
                    item.span.clone(),
                    format!("no matching subnet for {what} {}", item.value),
                    format!("give the {what} a --subnet that holds it"),
                );
                continue;
            };
            let subnet = net.pools[i]
                .subnet
                .as_ref()
                .map(|s| s.value.to_string())
                .unwrap_or_default();
            match slot(&mut net.pools[i]) {
                Some(other) => {
                    let message = format!(
                        "{twice} ({}, {}) {relation} ({subnet})",
                        item.value, other.value
                    );
                    self.error(item.span.clone(), message, hint);
                }
                free => *free = Some(item),
            }
        }
    }

    /// Gives each --ip-range, --gateway and --aux-address to the --subnet that holds it.
    fn pair(
        &mut self,
        net: &mut Network,
        ranges: Vec<At<IpNetwork>>,
        gateways: Vec<At<IpAddr>>,
        aux: Vec<(String, At<IpAddr>)>,
    ) {
        let holder = |net: &Network, a: IpAddr| {
            net.pools
                .iter()
                .position(|p| p.subnet.as_ref().is_some_and(|s| s.value.contains(a)))
        };
        if net.pools.is_empty() && (!ranges.is_empty() || !gateways.is_empty()) {
            let at = ranges
                .first()
                .map(|r| r.span.clone())
                .or(gateways.first().map(|g| g.span.clone()))
                .unwrap_or_default();
            self.error(
                at,
                "every ip-range or gateway must have a corresponding subnet",
                "add --subnet",
            );
            return;
        }
        self.place(
            net,
            ranges,
            |r| r.ip(),
            |p| &mut p.ip_range,
            [
                "cannot configure multiple ranges",
                "on the same subnet",
                "one --ip-range per --subnet",
                "range",
            ],
        );
        self.place(
            net,
            gateways,
            |g| *g,
            |p| &mut p.gateway,
            [
                "cannot configure multiple gateways",
                "for the same subnet",
                "one --gateway per --subnet",
                "gateway",
            ],
        );
        for (name, a) in aux {
            match holder(net, a.value) {
                Some(i) => net.pools[i].aux.push((name, a)),
                None => self.error(
                    a.span.clone(),
                    format!("no matching subnet for aux-address {}", a.value),
                    "give the address a --subnet that holds it",
                ),
            }
        }
    }

    /// A container on `network` with the addresses it asks for.
    #[allow(clippy::too_many_arguments)]
    fn join(
        &mut self,
        network: &Word,
        name: String,
        ip: Option<&Word>,
        ip6: Option<&Word>,
        mac: Option<&Word>,
    ) {
        let ipv4 = ip.and_then(|w| self.value::<Ipv4Addr>(w, "an IPv4 address", "192.168.1.50"));
        let ipv6 = ip6.and_then(|w| self.value::<Ipv6Addr>(w, "an IPv6 address", "fd00:1::50"));
        let mac = mac.and_then(|w| self.value::<MacAddr>(w, "a MAC address", "02:42:c0:a8:01:32"));
        let wanted = node_name(&network.value);
        let Some(net) = self.networks.iter_mut().find(|n| n.name == wanted) else {
            self.notes.push(format!("container `{name}` joins `{}`, which no macvlan network of the file creates: left out", network.value));
            return;
        };
        let name = if net.containers.iter().any(|c| c.name == name) {
            format!("{name}-{wanted}")
        } else {
            name
        };
        net.containers.push(Container {
            name,
            count: 1,
            ipv4,
            ipv6,
            mac,
        });
    }

    fn run(&mut self, words: &[Word]) {
        let p = flags(words, RUN_VALUES, true);
        let get = |names: &[&str]| {
            p.flags
                .iter()
                .rev()
                .find(|(f, _)| names.contains(&f.value.as_str()))
                .and_then(|(_, v)| v.as_ref())
        };
        let name = match get(&["--name"]) {
            Some(n) => node_name(&n.value),
            None => {
                self.unnamed += 1;
                format!("c{}", self.unnamed)
            }
        };
        let Some(network) = get(&["--network", "--net"]).cloned() else {
            self.notes.push(format!(
                "container `{name}` has no --network: it sits on Docker's default bridge, left out"
            ));
            return;
        };
        let (ip, ip6, mac) = (
            get(&["--ip"]).cloned(),
            get(&["--ip6"]).cloned(),
            get(&["--mac-address"]).cloned(),
        );
        self.join(&network, name, ip.as_ref(), ip6.as_ref(), mac.as_ref());
    }

    fn connect(&mut self, words: &[Word], at: Span) {
        let p = flags(
            words,
            &[
                "--ip",
                "--ip6",
                "--alias",
                "--link",
                "--link-local-ip",
                "--driver-opt",
            ],
            false,
        );
        let [network, container] = &p.args[..] else {
            self.error(
                at,
                "`docker network connect` takes a network and a container",
                "write docker network connect [--ip IP] NETWORK CONTAINER",
            );
            return;
        };
        let get = |name: &str| {
            p.flags
                .iter()
                .rev()
                .find(|(f, _)| f.value == name)
                .and_then(|(_, v)| v.as_ref())
        };
        let (ip, ip6) = (get("--ip").cloned(), get("--ip6").cloned());
        self.join(
            network,
            node_name(&container.value),
            ip.as_ref(),
            ip6.as_ref(),
            None,
        );
    }
}

pub fn read(source: &Arc<Source>) -> Result<Imported, Diagnostics> {
    let commands = commands(&source.text).map_err(|(message, span)| {
        Diagnostics(vec![
            Diagnostic::at(source, span, message).hint("close the quote"),
        ])
    })?;
    let mut r = Reading {
        source: source.clone(),
        diags: Diagnostics::default(),
        networks: Vec::new(),
        notes: Vec::new(),
        unnamed: 0,
    };
    for words in commands {
        if let Some(w) = words.iter().find(|w| w.value.contains('$')) {
            r.error(
                w.span.clone(),
                format!("`{}` needs the shell to expand it", w.value),
                "write the value itself: mvlab import does not run the shell",
            );
            continue;
        }
        let start = words
            .iter()
            .position(|w| w.value != "sudo" && !w.value.contains('='))
            .unwrap_or(words.len());
        let words = &words[start..];
        let Some(first) = words.first().filter(|w| w.value == "docker") else {
            continue;
        };
        // Global flags before the command (-H HOST, --context NAME, ...).
        let mut i = 1;
        while words.get(i).is_some_and(|w| w.value.starts_with('-')) {
            i += if words[i].value.contains('=')
                || ["-D", "--debug", "--tls", "--tlsverify"].contains(&words[i].value.as_str())
            {
                1
            } else {
                2
            };
        }
        let rest = &words[i.min(words.len())..];
        let at = first.span.start..words.last().map_or(first.span.end, |w| w.span.end);
        let verb: Vec<&str> = rest.iter().take(2).map(|w| w.value.as_str()).collect();
        match verb[..] {
            ["network", "create", ..] => r.network_create(&rest[2..], at),
            ["network", "connect", ..] => r.connect(&rest[2..], at),
            ["run" | "create", ..] => r.run(&rest[1..]),
            ["container", "run" | "create", ..] => r.run(&rest[2..]),
            _ => {}
        }
    }
    let Reading {
        diags,
        networks,
        notes,
        ..
    } = r;
    diags.into_result(Imported {
        engine: Engine::Docker,
        format: "a file of docker commands",
        networks,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_as_a_shell_splits_them() {
        let c = commands("docker run --name 'a b' \\\n  --ip=1.2.3.4 img # comment\necho \"x\\\"y\"; true && false\n").unwrap();
        let words: Vec<Vec<&str>> = c
            .iter()
            .map(|w| w.iter().map(|w| w.value.as_str()).collect())
            .collect();
        assert_eq!(
            words,
            [
                vec!["docker", "run", "--name", "a b", "--ip=1.2.3.4", "img"],
                vec!["echo", "x\"y"],
                vec!["true"],
                vec!["false"]
            ]
        );
    }

    #[test]
    fn networks_and_containers_from_commands() {
        let text = "sudo docker network create -d macvlan --subnet 192.168.1.0/24 --subnet 2001:db8::/64 \\\n  --gateway 192.168.1.1 --ip-range 192.168.1.128/25 --aux-address r=192.168.1.2 \\\n  --ipv6 -o parent=eth0.10 -o macvlan_mode=vepa lan\ndocker run -d --name web --network lan --ip 192.168.1.50 nginx sh -c 'sleep 1'\ndocker run -d --network=lan busybox\ndocker network connect --ip 192.168.1.60 lan web\n";
        let imported = read(&Source::new("cmds.sh", text)).unwrap();
        let n = &imported.networks[0];
        assert_eq!(n.parent.as_ref().unwrap().value, "eth0.10");
        assert_eq!(n.mode.as_ref().unwrap().value, "vepa");
        assert_eq!(n.enable_ipv6, Some(true));
        assert_eq!(
            n.pools[0].gateway.as_ref().unwrap().value.to_string(),
            "192.168.1.1"
        );
        assert_eq!(n.pools[0].aux[0].0, "r");
        assert!(n.pools[1].gateway.is_none());
        let names: Vec<&str> = n.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["web", "c1", "web-lan"]);
    }

    #[test]
    fn the_clis_pairing_rules_and_words() {
        let text =
            "docker network create -d macvlan --subnet 192.168.1.0/24 --gateway 10.0.0.1 lan\n";
        let err = read(&Source::new("cmds.sh", text)).unwrap_err();
        assert_eq!(err.0[0].message, "no matching subnet for gateway 10.0.0.1");
        let (_, line, col) = err.0[0].location().unwrap();
        assert_eq!((line, col), (1, 68));
        let err = read(&Source::new(
            "c.sh",
            "docker run --network lan --ip $IP img\n",
        ))
        .unwrap_err();
        assert!(err.0[0].message.contains("needs the shell"));
    }

    #[test]
    fn a_second_range_or_gateway_on_one_subnet_is_refused_in_dockers_words() {
        let text = "docker network create -d macvlan --subnet 192.168.1.0/24 --ip-range 192.168.1.0/25 --ip-range 192.168.1.128/25 --gateway 192.168.1.1 --gateway 192.168.1.2 --ip-range 10.0.0.0/24 lan\n";
        let err = read(&Source::new("cmds.sh", text)).unwrap_err();
        let messages: Vec<&str> = err.0.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "cannot configure multiple ranges (192.168.1.128/25, 192.168.1.0/25) on the same subnet (192.168.1.0/24)",
                "no matching subnet for range 10.0.0.0/24",
                "cannot configure multiple gateways (192.168.1.2, 192.168.1.1) for the same subnet (192.168.1.0/24)",
            ]
        );
    }
}

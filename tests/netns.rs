//! The namespace helper against the real kernel (needs root; fails, never skips, without it).

use std::io::ErrorKind;

use mvlab::netns::{self, Netns};

fn unique(tag: &str) -> String {
    format!("mvtest-{tag}-{}", std::process::id())
}

#[test]
fn named_namespaces_are_created_entered_and_removed() {
    let names: Vec<String> = (0..6).map(|i| format!("{}-{i}", unique("ns"))).collect();
    let made = netns::create_named(&names, 2, |ns| ns.id());
    let made: Vec<(Netns, u64)> = made.into_iter().map(|r| r.expect("create")).collect();

    // Each is a distinct namespace, visible to `ip netns`, and not the caller's.
    let caller = Netns::current().unwrap().id().unwrap();
    let mut ids: Vec<u64> = made
        .iter()
        .map(|(ns, id)| {
            assert_eq!(ns.id().unwrap(), *id);
            *id
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), names.len());
    assert!(!ids.contains(&caller));
    let listed = String::from_utf8(
        std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for name in &names {
        assert!(
            listed.contains(name.as_str()),
            "{name} missing from ip netns list"
        );
    }

    // Work run inside one sees that namespace; the caller's thread never moves.
    let (first, first_id) = &made[0];
    let inside = first
        .run(|| Netns::current().unwrap().id().unwrap())
        .unwrap();
    assert_eq!(inside, *first_id);
    let spawned = first
        .spawn("probe", || Netns::current().unwrap().id().unwrap())
        .unwrap();
    assert_eq!(spawned.join().unwrap(), *first_id);
    assert_eq!(Netns::current().unwrap().id().unwrap(), caller);

    // A second creation of the same name is refused and leaves the first alone.
    let again = netns::create_named(&names[..1], 1, |_| Ok(()));
    assert_eq!(
        again[0].as_ref().unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(Netns::open(&names[0]).unwrap().id().unwrap(), *first_id);

    drop(made);
    for name in &names {
        assert!(netns::remove_named(name).unwrap());
        assert!(!netns::remove_named(name).unwrap());
    }
    assert!(
        netns::list_named()
            .unwrap()
            .iter()
            .all(|n| !names.contains(n))
    );
}

#[test]
fn unnamed_namespace_is_fresh() {
    let ns = netns::create_unnamed().unwrap();
    assert_ne!(ns.id().unwrap(), Netns::current().unwrap().id().unwrap());
    assert!(ns.name().is_none());
}

#[test]
fn opening_a_missing_namespace_names_it() {
    let err = Netns::open("mvtest-does-not-exist").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("mvtest-does-not-exist"));
}

//! The "nothing lost" promise as properties over random user kubeconfigs, and
//! the lock as a race between parallel merges.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use proptest::prelude::*;

use super::tests::{lab, source};
use super::value::Yaml;
use super::*;

const LAB: &str = "lab";
const OURS: &str = "playground-lab";
const LISTS: [&str; 3] = ["clusters", "users", "contexts"];

/// Strings that trip YAML writers: indicators, YAML 1.1 keywords, numbers in
/// disguise, quotes, unicode, line breaks, surrounding blanks.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        prop::sample::select(vec![
            "yes",
            "No",
            "on",
            "off",
            "y",
            "n",
            "null",
            "~",
            "true",
            "False",
            "123",
            "-7",
            "0755",
            "0x1F",
            "1e3",
            ".inf",
            ".nan",
            "2001-12-14",
            "12:30:00",
            "- item",
            "a: b",
            "#not a comment",
            "key # tail",
            "'single'",
            "\"double\"",
            "it's",
            "back\\slash",
            "{flow}",
            "[seq]",
            "*alias",
            "&anchor",
            "!tag",
            "%directive",
            "@at",
            "`tick`",
            "|pipe",
            ">gt",
            "? q",
            ": c",
            " lead",
            "trail ",
            "\t",
            "ünïcødé ✓ 🎉",
            "日本語",
            "line1\nline2",
            "trailing newline\n",
            "\nleading",
            "many\n\n\n",
            "cr\r\nlf",
            "\u{85}nel",
            "\u{2028}ls",
            "\u{feff}bom",
            "a\u{7}bell",
            "https://h:6443/p?q=1#f",
            "--- doc",
            "...",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9 :#'\"\\\\{}\\[\\],&*!|>%@`\n\t-]{0,24}",
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
}

fn scalar() -> impl Strategy<Value = Yaml> {
    prop_oneof![
        Just(Yaml::Null),
        any::<bool>().prop_map(Yaml::Bool),
        any::<i64>().prop_map(Yaml::Int),
        any::<u64>().prop_map(Yaml::UInt),
        prop_oneof![any::<f64>(), Just(f64::INFINITY), Just(f64::NAN), Just(0.5)]
            .prop_map(Yaml::Float),
        tricky_string().prop_map(Yaml::String),
    ]
}

/// Whether two keys would clash in one mapping. serde-saphyr rejects `true`
/// and `"true"` (or `1` and `"1"`) side by side as duplicates, so compare by
/// spelling, loosely.
fn same_key(a: &Yaml, b: &Yaml) -> bool {
    let text = |k: &Yaml| match k {
        Yaml::String(s) => s.to_lowercase(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::UInt(n) => n.to_string(),
        other => format!("{other:?}"),
    };
    text(a) == text(b)
}

/// A mapping with unique keys (duplicates would be refused, not kept).
fn map_of(value: impl Strategy<Value = Yaml>, max: usize) -> impl Strategy<Value = Yaml> {
    let key = prop_oneof![
        4 => tricky_string().prop_map(Yaml::String),
        1 => any::<u16>().prop_map(|n| Yaml::UInt(n.into())),
        1 => any::<bool>().prop_map(Yaml::Bool),
    ];
    prop::collection::vec((key, value), 0..max).prop_map(|entries| {
        let mut unique: Vec<(Yaml, Yaml)> = Vec::new();
        for (k, v) in entries {
            if !unique.iter().any(|(seen, _)| same_key(seen, &k)) {
                unique.push((k, v));
            }
        }
        Yaml::Map(unique)
    })
}

/// Any value, nested: exec configs, extensions, unknown future fields.
fn value() -> impl Strategy<Value = Yaml> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Yaml::Seq),
            map_of(inner, 4),
        ]
    })
}

/// Names that look like ours without being ours, plus ours now and then
/// (a leftover from an earlier run, which merge must replace).
fn random_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "playground-labx", "playground-la", "playground-lab-2", "playground-", "playground",
            "Playground-lab", "playground-lab ", "lab", "prod", "default", "kind-kind",
            "arn:aws:eks:eu-west-1:123:cluster/x", "gke_p_z_c",
        ])
        .prop_map(str::to_owned),
        2 => tricky_string(),
        1 => Just(OURS.to_owned()),
    ]
}

/// A cluster, user or context entry: `name`, the typed body (with unknown
/// keys mixed in) and unknown keys beside them.
fn entry(body_key: &'static str) -> impl Strategy<Value = Yaml> {
    let body = match body_key {
        "cluster" => (tricky_string(), map_of(value(), 3))
            .prop_map(|(server, extra)| with_fields(extra, [("server", Yaml::String(server))]))
            .boxed(),
        "user" => prop_oneof![
            (tricky_string(), map_of(value(), 2))
                .prop_map(|(t, extra)| with_fields(extra, [("token", Yaml::String(t))])),
            (
                prop::collection::vec(tricky_string(), 0..4),
                map_of(value(), 3)
            )
                .prop_map(|(args, extra)| {
                    let exec = with_fields(
                        extra,
                        [
                            ("command", "aws".into()),
                            (
                                "args",
                                Yaml::Seq(args.into_iter().map(Yaml::String).collect()),
                            ),
                            (
                                "env",
                                Yaml::Seq(vec![with_fields(
                                    Yaml::Map(vec![]),
                                    [("name", "K".into()), ("value", "v: #1".into())],
                                )]),
                            ),
                        ],
                    );
                    Yaml::Map(vec![("exec".into(), exec)])
                }),
        ]
        .boxed(),
        _ => (random_name(), map_of(value(), 2))
            .prop_map(|(cluster, extra)| with_fields(extra, [("cluster", Yaml::String(cluster))]))
            .boxed(),
    };
    (random_name(), prop::option::of(body), map_of(value(), 2)).prop_map(
        move |(name, body, extra)| {
            let mut e = Yaml::Map(vec![("name".into(), Yaml::String(name))]);
            if let Some(body) = body {
                e.set(body_key, body);
            }
            merge_extra(e, extra)
        },
    )
}

/// `fields` set on `map` (they win over random keys of the same name).
fn with_fields<const N: usize>(mut map: Yaml, fields: [(&str, Yaml); N]) -> Yaml {
    for (k, v) in fields {
        map.set(k, v);
    }
    map
}

/// Random extra keys added to `entry`, never overriding what it has.
fn merge_extra(mut entry: Yaml, extra: Yaml) -> Yaml {
    if let (Yaml::Map(entries), Yaml::Map(more)) = (&mut entry, extra) {
        for (k, v) in more {
            if !entries.iter().any(|(seen, _)| same_key(seen, &k)) {
                entries.push((k, v));
            }
        }
    }
    entry
}

/// A whole user kubeconfig. Top-level keys come in random order; each list
/// and `current-context` may be absent.
fn user_kubeconfig() -> impl Strategy<Value = Yaml> {
    let list = |key: &'static str| {
        prop::option::of(prop_oneof![
            1 => Just(Yaml::Null),
            8 => prop::collection::vec(entry(key), 0..5).prop_map(Yaml::Seq),
        ])
    };
    let current = prop::option::of(prop_oneof![
        Just(Yaml::String(String::new())),
        Just(Yaml::Null),
        random_name().prop_map(Yaml::String),
    ]);
    (
        list("cluster"),
        list("user"),
        list("context"),
        current,
        prop::option::of(map_of(value(), 3)),
        prop::option::of(prop::collection::vec(
            (tricky_string(), value()).prop_map(|(n, v)| {
                with_fields(
                    Yaml::Map(vec![]),
                    [("name", n.as_str().into()), ("extension", v)],
                )
            }),
            0..3,
        )),
        map_of(value(), 3),
        any::<bool>(),
        any::<prop::sample::Index>(),
    )
        .prop_map(
            |(clusters, users, contexts, current, prefs, exts, unknown, typemeta, rotate)| {
                let mut top: Vec<(Yaml, Yaml)> = Vec::new();
                if typemeta {
                    top.push(("apiVersion".into(), "v1".into()));
                    top.push(("kind".into(), "Config".into()));
                }
                let named = [
                    ("clusters", clusters),
                    ("users", users),
                    ("contexts", contexts),
                    ("current-context", current),
                    ("preferences", prefs),
                    ("extensions", exts.map(Yaml::Seq)),
                ];
                for (k, v) in named {
                    if let Some(v) = v {
                        top.push((k.into(), v));
                    }
                }
                if let Yaml::Map(unknown) = unknown {
                    for (k, v) in unknown {
                        if !top.iter().any(|(seen, _)| same_key(seen, &k)) {
                            top.push((k, v));
                        }
                    }
                }
                if !top.is_empty() {
                    let at = rotate.index(top.len());
                    top.rotate_left(at);
                }
                Yaml::Map(top)
            },
        )
}

fn is_ours(item: &Yaml) -> bool {
    is_named(item, OURS)
}

fn items(doc: &Yaml, key: &str) -> Vec<Yaml> {
    match doc.get(key) {
        Some(Yaml::Seq(items)) => items.clone(),
        _ => Vec::new(),
    }
}

fn others(doc: &Yaml, key: &str) -> Vec<Yaml> {
    items(doc, key)
        .into_iter()
        .filter(|i| !is_ours(i))
        .collect()
}

/// The top-level keys other than the ones merge and remove may edit.
fn untouchable(doc: &Yaml) -> Vec<(Yaml, Yaml)> {
    match doc {
        Yaml::Map(entries) => entries
            .iter()
            .filter(|(k, _)| {
                !matches!(k.as_str(), Some(s) if LISTS.contains(&s) || s == "current-context")
            })
            .cloned()
            .collect(),
        _ => panic!("not a mapping: {doc:?}"),
    }
}

fn read(path: &Path) -> Yaml {
    parse_doc(path, &fs::read_to_string(path).unwrap())
        .unwrap()
        .unwrap()
}

/// Render as flow-style JSON (also YAML) or as our block YAML: user files
/// come from many writers.
fn write_user_file(path: &Path, doc: &Yaml, as_json: bool) -> Result<(), TestCaseError> {
    let text = if as_json {
        match serde_json::to_string_pretty(doc) {
            Ok(t) => t,
            // JSON cannot hold every key or float; block YAML can.
            Err(_) => render(doc).unwrap(),
        }
    } else {
        // proptest turns any `std::error::Error` into a failed case, with its message.
        render(doc)?
    };
    fs::write(path, text).unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn merge_then_remove_loses_nothing(
        generated in user_kubeconfig(),
        switch in any::<bool>(),
        as_json in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        write_user_file(&path, &generated, as_json)?;
        // What the file means, as we read it: the baseline for "unchanged".
        let before = read(&path);
        let src = source("https://127.0.0.1:6550");
        let expected = OurEntries::from_source(&lab(LAB), &src).unwrap();

        merge(&path, &lab(LAB), &src, switch).unwrap();
        let merged = read(&path);
        prop_assert_eq!(untouchable(&merged), untouchable(&before));
        for (key, ours) in LISTS.into_iter().zip([&expected.cluster, &expected.user, &expected.context]) {
            prop_assert_eq!(others(&merged, key), others(&before, key), "{}", key);
            let mine: Vec<Yaml> = items(&merged, key).into_iter().filter(is_ours).collect();
            prop_assert_eq!(mine, vec![ours.clone()], "{}", key);
        }
        let cc_before = before.get("current-context").and_then(Yaml::as_str);
        let cc_merged = merged.get("current-context").and_then(Yaml::as_str);
        if switch || cc_before.is_none_or(str::is_empty) {
            prop_assert_eq!(cc_merged, Some(OURS));
        } else {
            prop_assert_eq!(merged.get("current-context"), before.get("current-context"));
        }

        remove(&path, &lab(LAB)).unwrap();
        let removed = read(&path);
        prop_assert_eq!(untouchable(&removed), untouchable(&before));
        for key in LISTS {
            prop_assert_eq!(items(&removed, key), others(&before, key), "{}", key);
        }
        if cc_merged == Some(OURS) {
            prop_assert_eq!(removed.get("current-context"), Some(&Yaml::String(String::new())));
        } else {
            prop_assert_eq!(removed.get("current-context"), before.get("current-context"));
        }
        // The strongest form: where the user's file already had our lists, no
        // entry of ours and a current context of their own, the round trip is
        // the identity, down to key order.
        let had_lists = LISTS.iter().all(|k| matches!(before.get(k), Some(Yaml::Seq(_))));
        let had_ours = LISTS.iter().any(|k| items(&before, k).iter().any(is_ours));
        let own_current = cc_before.is_some_and(|c| !c.is_empty() && c != OURS);
        if had_lists && !had_ours && own_current && !switch {
            prop_assert_eq!(&removed, &before);
        }
    }
}

/// Parallel `up`s and `down`s of different labs on one file: every one of
/// them lands, and a reader never sees a torn file.
#[test]
fn parallel_merges_and_removes_lose_no_update() {
    const LABS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let user = "apiVersion: v1\nkind: Config\nclusters:\n- name: mine\n  cluster: {server: 'https://m'}\n\
                users:\n- name: mine\n  user: {token: t}\ncontexts:\n- name: mine\n  context: {cluster: mine, user: mine}\n\
                current-context: mine\n";
    fs::write(&path, user).unwrap();
    let original = read(&path);

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (path, done) = (path.clone(), done.clone());
        thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let text = fs::read_to_string(&path).unwrap();
                parse_doc(&path, &text).unwrap().unwrap();
                reads += 1;
            }
            reads
        })
    };

    let barrier = Arc::new(Barrier::new(LABS));
    let workers: Vec<_> = (0..LABS)
        .map(|i| {
            let (path, barrier) = (path.clone(), barrier.clone());
            thread::spawn(move || {
                let name = lab(&format!("lab{i}"));
                let src = source(&format!("https://127.0.0.1:{}", 7000 + i));
                barrier.wait();
                merge(&path, &name, &src, false).unwrap();
                barrier.wait();
                // Every merge has landed: all labs are present at this point.
                let doc = read(&path);
                for j in 0..LABS {
                    let name = entry_name(&lab(&format!("lab{j}")));
                    for key in LISTS {
                        assert!(
                            items(&doc, key).iter().any(|e| is_named(e, &name)),
                            "{name} in {key}"
                        );
                    }
                }
                barrier.wait();
                remove(&path, &name).unwrap();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);

    assert_eq!(read(&path), original);
    assert!(!dir.path().join("config.lock").exists());
}

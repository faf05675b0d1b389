//! The TTL describes the ports the code implements: every control's index,
//! symbol, range and default in ttl/nam-graph.ttl equal `Control::spec`, and
//! the file parameters equal `FileSlot::uri`, for both plugins.

use std::collections::BTreeMap;

use nam_lv2::controls::{Control, MODEL_SIZE_SCALE_POINTS};
use nam_lv2::rig::FileSlot;

const TTL: &str = include_str!("../../ttl/nam-graph.ttl");
const MANIFEST: &str = include_str!("../../ttl/manifest.ttl");

/// First port index of the controls (after in, out, control, notify,
/// enabled, latency).
const FIRST_CONTROL_INDEX: usize = 6;

/// One port's fields as written in the TTL.
#[derive(Debug, Default)]
struct Port {
    symbol: String,
    fields: BTreeMap<String, String>,
}

/// The ports of the plugin whose subject is `<uri>`, by index.
fn ports_of(uri: &str) -> BTreeMap<usize, Port> {
    let start = TTL
        .find(&format!("\n<{uri}>\n"))
        .unwrap_or_else(|| panic!("{uri} not described"));
    let rest = &TTL[start + 1..];
    let end = rest[1..].find("\n<").map_or(rest.len(), |e| e + 1);
    let block = &rest[..end];
    let mut ports = BTreeMap::new();
    for chunk in block.split("lv2:index ").skip(1) {
        let index: usize = chunk
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("index number");
        let mut port = Port::default();
        for line in chunk.lines().skip(1) {
            let line = line.trim().trim_end_matches([';', ',']).trim();
            if line.starts_with(']') || line.starts_with("a ") {
                break;
            }
            if let Some((key, value)) = line.split_once(' ') {
                let value = value.trim().trim_matches('"').to_owned();
                if key == "lv2:symbol" {
                    port.symbol = value.clone();
                }
                port.fields.insert(key.to_owned(), value);
            }
        }
        assert!(
            ports.insert(index, port).is_none(),
            "{uri}: index {index} twice"
        );
    }
    ports
}

fn number(port: &Port, key: &str) -> f32 {
    port.fields
        .get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("port {}: no numeric {key}", port.symbol))
}

fn check_plugin(uri: &str, audio_ports: &[(usize, &str)]) {
    let ports = ports_of(uri);
    for (i, control) in Control::ALL.iter().enumerate() {
        let spec = control.spec();
        let port = ports
            .get(&(FIRST_CONTROL_INDEX + i))
            .unwrap_or_else(|| panic!("{uri}: no port for {}", spec.symbol));
        assert_eq!(
            port.symbol,
            spec.symbol,
            "{uri}: port {}",
            FIRST_CONTROL_INDEX + i
        );
        assert_eq!(number(port, "lv2:minimum"), spec.min, "{}", spec.symbol);
        assert_eq!(number(port, "lv2:maximum"), spec.max, "{}", spec.symbol);
        assert_eq!(number(port, "lv2:default"), spec.default, "{}", spec.symbol);
    }
    let fixed = [
        (0, "in"),
        (1, "out"),
        (2, "control"),
        (3, "notify"),
        (4, "enabled"),
        (5, "latency"),
    ];
    for (index, symbol) in fixed.iter().chain(audio_ports) {
        assert_eq!(ports[index].symbol, *symbol, "{uri}: port {index}");
    }
    let count = FIRST_CONTROL_INDEX + Control::ALL.len() + audio_ports.len();
    assert_eq!(ports.len(), count, "{uri}: port count");
    assert_eq!(
        *ports.keys().last().unwrap(),
        count - 1,
        "{uri}: indices are contiguous"
    );
}

#[test]
fn mono_ports_match_the_code() {
    check_plugin("urn:nam-graph:amp", &[]);
}

#[test]
fn stereo_ports_match_the_code() {
    check_plugin("urn:nam-graph:amp-stereo", &[(19, "in_r"), (20, "out_r")]);
}

#[test]
fn file_parameters_are_described_and_writable() {
    for slot in FileSlot::ALL {
        let subject = format!("\n<{}>\n    a lv2:Parameter ;", slot.uri());
        assert!(TTL.contains(&subject), "{} not described", slot.uri());
    }
    let writable = FileSlot::ALL.map(|s| format!("<{}>", s.uri())).join(", ");
    assert_eq!(
        TTL.matches(&format!("patch:writable {writable} .")).count(),
        2,
        "both plugins list every file parameter"
    );
}

#[test]
fn the_model_parameter_offers_nam_and_aida_x_files_in_mod() {
    let subject = format!("\n<{}>\n", FileSlot::Model.uri());
    let start = TTL.find(&subject).expect("model parameter described");
    let end = start + TTL[start..].find(" .\n").expect("the description ends");
    let description = &TTL[start..end];
    assert!(
        description.contains("mod:fileTypes \"nammodel,aidadspmodel\""),
        "{description}"
    );
}

#[test]
fn manifest_names_both_plugins_and_the_binary() {
    for uri in ["urn:nam-graph:amp", "urn:nam-graph:amp-stereo"] {
        assert!(MANIFEST.contains(&format!(
            "<{uri}>\n    a lv2:Plugin ;\n    lv2:binary <libnam_lv2.so>"
        )));
    }
}

#[test]
fn model_size_scale_points_match_the_code_in_both_plugins() {
    let blocks: Vec<&str> = TTL
        .match_indices("lv2:symbol \"model_size\"")
        .map(|(at, _)| {
            let rest = &TTL[at..];
            let end = ["lv2:index", "patch:writable"]
                .iter()
                .filter_map(|m| rest.find(m))
                .min()
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    assert_eq!(blocks.len(), 2, "one model_size port per plugin");
    for block in blocks {
        assert_eq!(
            block.matches("rdfs:label").count(),
            MODEL_SIZE_SCALE_POINTS.len(),
            "{block}"
        );
        for (value, label) in MODEL_SIZE_SCALE_POINTS {
            let point = format!("[ rdfs:label \"{label}\" ; rdf:value {value:?} ]");
            assert!(block.contains(&point), "missing {point} in:\n{block}");
        }
        let spec = Control::ModelSize.spec();
        assert!(MODEL_SIZE_SCALE_POINTS
            .iter()
            .any(|&(value, _)| value == spec.default));
        assert!(MODEL_SIZE_SCALE_POINTS
            .iter()
            .all(|&(value, _)| (spec.min..=spec.max).contains(&value)));
    }
}

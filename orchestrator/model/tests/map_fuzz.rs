//! Whatever the input, reading a map returns a value or an error; it never
//! panics.

mod common;

use std::sync::OnceLock;

use borderlane_model::LaneMap;
use borderlane_model::map::{MapError, Point};
use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn shipped() -> &'static (String, Value) {
    static MAP: OnceLock<(String, Value)> = OnceLock::new();
    MAP.get_or_init(|| (map_text(TWO_LANE), map_json(TWO_LANE)))
}

/// Loads text and, when it is a map, exercises the derived data too.
fn exercise(text: &str) {
    match LaneMap::from_geojson(text) {
        Ok(map) => {
            let _ = map.summary().to_string();
            let _ = map.match_position(Point::new(0.0, 0.0));
            let _ = map.spatial().zones_at(Point::new(0.0, 0.0));
        }
        Err(MapError::Invalid(issues)) => {
            assert!(!issues.is_empty());
            for i in &issues {
                let _ = i.to_string();
            }
        }
        Err(MapError::Syntax(s)) => assert!(!s.is_empty()),
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [200, 100_000] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(matches!(
            LaneMap::from_geojson(&text),
            Err(MapError::Syntax(_))
        ));
        let coords = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"id":"X"}},"geometry":{{"type":"Polygon","coordinates":{coords}}}}}]}}"#
        );
        assert!(LaneMap::from_geojson(&text).is_err());
    }
}

/// Small, awkward JSON values.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|x| json!(x)),
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(-1.0),
            Just(1e300),
            Just(-1e300),
            Just(5e-324),
            Just(180.0),
            Just(-90.0),
        ]
        .prop_map(|x| json!(x)),
        prop_oneof![
            Just(""),
            Just("VN"),
            Just("CN"),
            Just("border"),
            Just("bridge"),
            Just("bidirectional"),
            Just("one_way"),
            Just("VN_Q1"),
            Just("BORDER_NB"),
            Just("Point"),
            Just("LineString"),
            Just("Polygon"),
            Just("MultiPoint"),
            Just("GeometryCollection"),
            Just("Feature"),
            Just("FeatureCollection"),
        ]
        .prop_map(|s| json!(s)),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("type".to_string()),
                        Just("coordinates".to_string()),
                        Just("id".to_string()),
                        Just("kind".to_string()),
                        "[a-z]{1,6}".prop_map(|s| s),
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// One change to the shipped map.
#[derive(Clone, Debug)]
enum Mutation {
    /// Sets a property of feature `i` (modulo the count) to a value.
    SetProperty(usize, &'static str, Value),
    RemoveProperty(usize, &'static str),
    SetGeometry(usize, Value),
    SetCoordinates(usize, Value),
    ReplaceFeature(usize, Value),
    RemoveFeature(usize),
    DuplicateFeature(usize),
    SetMember(&'static str, Value),
}

const PROPERTIES: [&str; 11] = [
    "id",
    "kind",
    "side",
    "from",
    "to",
    "direction",
    "speed_kmh",
    "length_m",
    "capacity",
    "members",
    "properties",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let i = any::<usize>();
    let prop = prop::sample::select(PROPERTIES.to_vec());
    prop_oneof![
        (i, prop.clone(), json_value()).prop_map(|(i, p, v)| Mutation::SetProperty(i, p, v)),
        (i, prop).prop_map(|(i, p)| Mutation::RemoveProperty(i, p)),
        (i, json_value()).prop_map(|(i, v)| Mutation::SetGeometry(i, v)),
        (i, json_value()).prop_map(|(i, v)| Mutation::SetCoordinates(i, v)),
        (i, json_value()).prop_map(|(i, v)| Mutation::ReplaceFeature(i, v)),
        i.prop_map(Mutation::RemoveFeature),
        i.prop_map(Mutation::DuplicateFeature),
        (
            prop::sample::select(vec!["name", "origin", "type", "features"]),
            json_value()
        )
            .prop_map(|(k, v)| Mutation::SetMember(k, v)),
    ]
}

fn apply(map: &mut Value, m: &Mutation) {
    let Some(features) = map.get_mut("features").and_then(Value::as_array_mut) else {
        if let Mutation::SetMember(k, v) = m {
            map[*k] = v.clone();
        }
        return;
    };
    let n = features.len();
    if n == 0 {
        return;
    }
    match m {
        Mutation::SetProperty(i, p, v) => {
            if let Some(obj) = features[i % n]
                .get_mut("properties")
                .and_then(Value::as_object_mut)
            {
                obj.insert(p.to_string(), v.clone());
            }
        }
        Mutation::RemoveProperty(i, p) => {
            if let Some(obj) = features[i % n].as_object_mut() {
                obj.remove(*p);
                if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
                    props.remove(*p);
                }
            }
        }
        Mutation::SetGeometry(i, v) => {
            if let Some(obj) = features[i % n].as_object_mut() {
                obj.insert("geometry".into(), v.clone());
            }
        }
        Mutation::SetCoordinates(i, v) => {
            if let Some(g) = features[i % n]
                .get_mut("geometry")
                .and_then(Value::as_object_mut)
            {
                g.insert("coordinates".into(), v.clone());
            }
        }
        Mutation::ReplaceFeature(i, v) => features[i % n] = v.clone(),
        Mutation::RemoveFeature(i) => {
            features.remove(i % n);
        }
        Mutation::DuplicateFeature(i) => {
            let f = features[i % n].clone();
            features.push(f);
        }
        Mutation::SetMember(k, v) => map[*k] = v.clone(),
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_text_never_panics(text in "[\\[\\]{}\":,0-9a-zA-Z .eE+-]{0,200}") {
        exercise(&text);
    }

    #[test]
    fn truncated_or_spliced_maps_never_panic(cut in any::<usize>(), insert in ".{0,12}") {
        let text = &shipped().0;
        let mut at = cut % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        exercise(&text[..at]);
        exercise(&format!("{}{}{}", &text[..at], insert, &text[at..]));
    }

    #[test]
    fn mutated_maps_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
        let mut map = shipped().1.clone();
        for m in &mutations {
            apply(&mut map, m);
        }
        exercise(&map.to_string());
    }
}

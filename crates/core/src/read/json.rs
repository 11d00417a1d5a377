//! JSON documents into raw records, streamed: a top-level array of records, an object that
//! wraps one or more record arrays (DummyJSON's `{"products": [...], "total": ...}`, under any
//! of the contract's `record_fields`), or a single object that is itself the record. Only the
//! record being parsed is held in memory, and each is bounded by `max_record_bytes`.

use std::fmt;
use std::io::BufRead;

use serde::Deserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::batch::BatchBuilder;
use super::flatten::{Placer, push_json_value};
use super::{ColumnMapper, Format, ReadFailure, ReadReport, Unreadable, guard, io_unreadable};
use crate::contract::normalize_name;

/// State shared by the streaming JSON visitors.
struct JsonState<'m, 'b, 'r, 's, E> {
    mapper: &'m ColumnMapper,
    meter: &'m guard::Meter,
    builder: &'b mut BatchBuilder<'s, E>,
    report: &'r mut ReadReport,
    placer: Placer,
    row: u64,
    failure: Option<ReadFailure<E>>,
    found_records: bool,
}

impl<E> JsonState<'_, '_, '_, '_, E> {
    fn push(&mut self, value: Value) -> bool {
        self.meter.mark();
        self.row += 1;
        let row = self.row;
        match push_json_value(
            value,
            row,
            self.mapper,
            self.builder,
            self.report,
            &mut self.placer,
        ) {
            Ok(()) => true,
            Err(f) => {
                self.failure = Some(f);
                false
            }
        }
    }
}

const SINK_FAILED: &str = "\u{0}shopflow: sink failed";

/// Streams the elements of an array into the state, one at a time.
struct RecordsSeq<'a, 'm, 'b, 'r, 's, E>(&'a mut JsonState<'m, 'b, 'r, 's, E>);

impl<'de, E> Visitor<'de> for RecordsSeq<'_, '_, '_, '_, '_, E> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.found_records = true;
        while let Some(value) = seq.next_element::<Value>()? {
            if !self.0.push(value) {
                return Err(serde::de::Error::custom(SINK_FAILED));
            }
        }
        Ok(())
    }
}

/// A field of a wrapping object: an array of records is streamed, anything else kept.
struct FieldSeed<'a, 'm, 'b, 'r, 's, E> {
    state: &'a mut JsonState<'m, 'b, 'r, 's, E>,
}

impl<'de, E> DeserializeSeed<'de> for FieldSeed<'_, '_, '_, '_, '_, E> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(FieldVisitor { state: self.state })
    }
}

struct FieldVisitor<'a, 'm, 'b, 'r, 's, E> {
    state: &'a mut JsonState<'m, 'b, 'r, 's, E>,
}

impl<'de, E> Visitor<'de> for FieldVisitor<'_, '_, '_, '_, '_, E> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<Value>, A::Error> {
        RecordsSeq(self.state).visit_seq(seq)?;
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
        let value =
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Some(value))
    }
    fn visit_bool<X: serde::de::Error>(self, v: bool) -> Result<Option<Value>, X> {
        Ok(Some(Value::Bool(v)))
    }
    fn visit_i64<X: serde::de::Error>(self, v: i64) -> Result<Option<Value>, X> {
        Ok(Some(Value::from(v)))
    }
    fn visit_u64<X: serde::de::Error>(self, v: u64) -> Result<Option<Value>, X> {
        Ok(Some(Value::from(v)))
    }
    fn visit_f64<X: serde::de::Error>(self, v: f64) -> Result<Option<Value>, X> {
        Ok(Some(Value::from(v)))
    }
    fn visit_str<X: serde::de::Error>(self, v: &str) -> Result<Option<Value>, X> {
        Ok(Some(Value::String(v.to_string())))
    }
    fn visit_string<X: serde::de::Error>(self, v: String) -> Result<Option<Value>, X> {
        Ok(Some(Value::String(v)))
    }
    fn visit_unit<X: serde::de::Error>(self) -> Result<Option<Value>, X> {
        Ok(Some(Value::Null))
    }
    fn visit_none<X: serde::de::Error>(self) -> Result<Option<Value>, X> {
        Ok(Some(Value::Null))
    }
}

/// The top-level JSON value: an array of records, or an object that wraps one (or is one).
struct TopVisitor<'a, 'm, 'b, 'r, 's, E>(&'a mut JsonState<'m, 'b, 'r, 's, E>);

impl<'de, E> Visitor<'de> for TopVisitor<'_, '_, '_, '_, '_, E> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of records or an object")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        RecordsSeq(self.0).visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Fields other than the record array (`total`, `skip`, ...): kept in case the object is
        // itself the record.
        let mut others = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // Every record field is streamed: an export may repeat the key or carry two
            // record arrays (`items` and `data`), and none is dropped.
            let is_record_field = self.0.mapper.record_fields.contains(&normalize_name(&key));
            if is_record_field {
                if let Some(value) = map.next_value_seed(FieldSeed { state: self.0 })? {
                    others.insert(key, value);
                }
            } else {
                let value: Value = map.next_value()?;
                others.insert(key, value);
            }
        }
        if !self.0.found_records && !others.is_empty() {
            // A single record written as one object.
            self.0.push(Value::Object(others));
            if self.0.failure.is_some() {
                return Err(serde::de::Error::custom(SINK_FAILED));
            }
        }
        Ok(())
    }
}

/// Streams a JSON document's records: the elements of a top-level array, of every record field
/// of a wrapping object, or the object itself when it holds no records.
pub(super) fn read_json<E>(
    text: impl BufRead,
    mapper: &ColumnMapper,
    meter: &guard::Meter,
    builder: &mut BatchBuilder<'_, E>,
    report: &mut ReadReport,
) -> Result<(), ReadFailure<E>> {
    let mut state = JsonState {
        mapper,
        meter,
        builder,
        report,
        placer: Placer::new(mapper.width()),
        row: 0,
        failure: None,
        found_records: false,
    };
    let mut de = serde_json::Deserializer::from_reader(text);
    let result = (&mut de).deserialize_any(TopVisitor(&mut state));
    if let Some(failure) = state.failure.take() {
        return Err(failure);
    }
    match result.and_then(|()| de.end()) {
        Ok(()) => Ok(()),
        Err(e) if e.is_io() => Err(ReadFailure::Unreadable(io_unreadable(e.into()))),
        Err(e) => Err(Unreadable::NotFormat {
            format: Format::Json,
            detail: e.to_string(),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::tests::{column, limited, read, read_with};
    use crate::read::{EXTRA_COLUMN, LimitExceeded};

    #[test]
    fn reads_a_dummyjson_product_page() {
        let page = r#"{"products":[{"id":1,"title":"Essence Mascara","description":"d","category":"beauty","price":9.99,"discountPercentage":7.17,"rating":4.94,"stock":5,"tags":["beauty","mascara"],"brand":"Essence","sku":"RCH45Q1A","dimensions":{"width":23.17},"meta":{"createdAt":"2024-05-23T08:56:21.618Z","updatedAt":"2024-05-23T08:56:21.618Z"}}],"total":194,"skip":0,"limit":1}"#;
        let (b, r) = read("products", "products-page-1.json", page.as_bytes()).unwrap();
        assert_eq!(column(&b, "product_id"), [Some("1".into())]);
        assert_eq!(column(&b, "name"), [Some("Essence Mascara".into())]);
        assert_eq!(column(&b, "price"), [Some("9.99".into())]);
        assert_eq!(
            column(&b, "updated_at"),
            [Some("2024-05-23T08:56:21.618Z".into())]
        );
        assert!(r.unknown_fields.contains("tags"));
        assert!(r.unknown_fields.contains("dimensions.width"));
        let extra = column(&b, EXTRA_COLUMN)[0].clone().unwrap();
        assert!(extra.contains("mascara"), "{extra}");
    }

    #[test]
    fn reads_fakestore_products_as_a_plain_array() {
        let body = r#"[{"id":1,"title":"Fjallraven Backpack","price":109.95,"description":"x","category":"men's clothing","image":"https://i","rating":{"rate":3.9,"count":120}}]"#;
        let (b, r) = read("products", "fakestore.json", body.as_bytes()).unwrap();
        assert_eq!(column(&b, "rating"), [Some("3.9".into())]);
        assert_eq!(column(&b, "category"), [Some("men's clothing".into())]);
        assert!(r.unknown_fields.contains("rating.count"));
    }

    #[test]
    fn reads_a_single_json_object_as_one_record() {
        let body = r#"{ "product_id": "P456", "name": "Wireless Mouse", "category": "Electronics", "price": 99.99, "stock": 150 }"#;
        let (b, _) = read("products", "product.json", body.as_bytes()).unwrap();
        assert_eq!(column(&b, "product_id"), [Some("P456".into())]);
    }

    #[test]
    fn quarantines_json_that_is_not_json() {
        let err = read("products", "products.json", b"id,title\n1,x\n").unwrap_err();
        assert!(
            matches!(
                err,
                Unreadable::NotFormat {
                    format: Format::Json,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn quarantines_truncated_json() {
        let err = read(
            "products",
            "products.json",
            br#"{"products":[{"id":1,"title":"a""#,
        )
        .unwrap_err();
        assert!(matches!(err, Unreadable::NotFormat { .. }), "{err:?}");
    }

    #[test]
    fn quarantines_json_whose_records_lack_a_required_column() {
        let err = read("products", "products.json", br#"[{"foo":1},{"bar":2}]"#).unwrap_err();
        assert!(
            matches!(err, Unreadable::MissingRequiredColumn { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_json_array_element_over_the_record_limit_ends_the_read() {
        let contract = limited("products", |f| f.max_record_bytes = Some(1024));
        let huge = "d".repeat(2 * 1024 * 1024);
        let body =
            format!(r#"[{{"id":1,"title":"a","price":1}},{{"id":2,"title":"{huge}","price":1}}]"#);
        let err = read_with(&contract, "p.json", body.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                Unreadable::Limit(LimitExceeded::Record { limit: 1024 })
            ),
            "{err:?}"
        );
    }
}

//! Lenient leaf types of the OTLP/JSON model: strings, integers, doubles, booleans and enums
//! that never fail the whole line on a wrong JSON type. Each records what it saw, and the
//! span decoder rejects the span (not the line) with the field's path.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// Drains a sequence or map so a visitor can answer "wrong type" without failing the parse.
pub(super) fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

pub(super) fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the non-matching visitor methods as "wrong type: got X".
macro_rules! wrong_type_visits {
    ($wrong:expr, [$($skip:ident),*]) => {
        wrong_type_visits!(@one $wrong, visit_bool, bool, "a boolean", [$($skip),*]);
        wrong_type_visits!(@one $wrong, visit_i64, i64, "a number", [$($skip),*]);
        wrong_type_visits!(@one $wrong, visit_u64, u64, "a number", [$($skip),*]);
        wrong_type_visits!(@one $wrong, visit_f64, f64, "a number", [$($skip),*]);
        wrong_type_visits!(@one $wrong, visit_str, &str, "a string", [$($skip),*]);
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrong("null"))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            drain_seq(seq)?;
            Ok($wrong("an array"))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            drain_map(map)?;
            Ok($wrong("an object"))
        }
    };
    (@one $wrong:expr, $name:ident, $t:ty, $what:expr, [$($skip:ident),*]) => {
        wrong_type_visits!(@check $name, [$($skip),*], {
            fn $name<E: de::Error>(self, _v: $t) -> Result<Self::Value, E> {
                Ok($wrong($what))
            }
        });
    };
    (@check $name:ident, [], { $($body:tt)* }) => { $($body)* };
    (@check visit_bool, [visit_bool $(, $rest:ident)*], { $($body:tt)* }) => {};
    (@check visit_i64, [visit_i64 $(, $rest:ident)*], { $($body:tt)* }) => {};
    (@check visit_u64, [visit_u64 $(, $rest:ident)*], { $($body:tt)* }) => {};
    (@check visit_f64, [visit_f64 $(, $rest:ident)*], { $($body:tt)* }) => {};
    (@check visit_str, [visit_str $(, $rest:ident)*], { $($body:tt)* }) => {};
    (@check $name:ident, [$first:ident $(, $rest:ident)*], { $($body:tt)* }) => {
        wrong_type_visits!(@check $name, [$($rest),*], { $($body)* });
    };
}

/// A JSON string, borrowed from the input when it has no escapes; or what was there instead.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum JStr<'a> {
    S(Cow<'a, str>),
    Wrong(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for JStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = JStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<JStr<'a>, E> {
                Ok(JStr::S(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JStr<'a>, E> {
                Ok(JStr::S(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<JStr<'a>, E> {
                Ok(JStr::S(Cow::Owned(v)))
            }
            wrong_type_visits!(JStr::Wrong, [visit_str]);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A 64-bit integer written as a JSON number or a decimal string (proto3 JSON allows both).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum JInt {
    V(i64),
    /// A valid integer that does not fit `i64` (nanosecond times past 2262, or > u64).
    OutOfRange,
    Wrong(&'static str),
}

/// Parses a decimal integer string as proto3 JSON writes 64-bit integers.
pub(super) fn parse_int_str(s: &str) -> JInt {
    let t = s.trim();
    if let Ok(v) = t.parse::<i64>() {
        return JInt::V(v);
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return JInt::OutOfRange;
    }
    // Exponent forms ("1e3") are legal JSON numbers inside a string for proto3 parsers.
    match t.parse::<f64>() {
        Ok(f) => int_from_f64(f),
        Err(_) => JInt::Wrong("a non-integer string"),
    }
}

/// 2^63 exactly: `i64` holds every integral double in `[-2^63, 2^63)`.
pub(super) const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

pub(super) fn int_from_f64(f: f64) -> JInt {
    if !f.is_finite() || f.fract() != 0.0 {
        JInt::Wrong("a non-integer number")
    } else if (-I64_BOUND..I64_BOUND).contains(&f) {
        JInt::V(f as i64)
    } else {
        JInt::OutOfRange
    }
}

impl<'de> Deserialize<'de> for JInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JInt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JInt, E> {
                Ok(JInt::V(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<JInt, E> {
                Ok(i64::try_from(v).map_or(JInt::OutOfRange, JInt::V))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JInt, E> {
                Ok(int_from_f64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JInt, E> {
                Ok(parse_int_str(v))
            }
            wrong_type_visits!(JInt::Wrong, [visit_i64, visit_u64, visit_f64, visit_str]);
        }
        d.deserialize_any(V)
    }
}

/// A double: a JSON number, or a string holding a number, `NaN`, `Infinity` or `-Infinity`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum JF64 {
    V(f64),
    Wrong(&'static str),
}

/// Parses a proto3 JSON double written as a string.
pub(super) fn parse_f64_str(s: &str) -> Option<f64> {
    match s.trim() {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        t => t.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

impl<'de> Deserialize<'de> for JF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JF64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a double")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JF64, E> {
                Ok(JF64::V(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<JF64, E> {
                Ok(JF64::V(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JF64, E> {
                Ok(JF64::V(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JF64, E> {
                Ok(parse_f64_str(v).map_or(JF64::Wrong("a non-numeric string"), JF64::V))
            }
            wrong_type_visits!(JF64::Wrong, [visit_i64, visit_u64, visit_f64, visit_str]);
        }
        d.deserialize_any(V)
    }
}

/// A boolean (JSON `true`/`false`; the strings `"true"`/`"false"` are accepted too).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum JBool {
    V(bool),
    Wrong(&'static str),
}

impl<'de> Deserialize<'de> for JBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<JBool, E> {
                Ok(JBool::V(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JBool, E> {
                Ok(match v {
                    "true" => JBool::V(true),
                    "false" => JBool::V(false),
                    _ => JBool::Wrong("a string"),
                })
            }
            wrong_type_visits!(JBool::Wrong, [visit_bool, visit_str]);
        }
        d.deserialize_any(V)
    }
}

/// An enum field: its number, or its name (proto3 canonical JSON), or a wrong type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum JEnum<'a> {
    Num(i64),
    Name(Cow<'a, str>),
    Wrong(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for JEnum<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = JEnum<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an enum number or name")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JEnum<'a>, E> {
                Ok(JEnum::Num(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<JEnum<'a>, E> {
                Ok(i64::try_from(v).map_or(JEnum::Wrong("an out-of-range number"), JEnum::Num))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JEnum<'a>, E> {
                Ok(match int_from_f64(v) {
                    JInt::V(i) => JEnum::Num(i),
                    _ => JEnum::Wrong("a non-integer number"),
                })
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<JEnum<'a>, E> {
                Ok(JEnum::Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JEnum<'a>, E> {
                Ok(JEnum::Name(Cow::Owned(v.to_owned())))
            }
            wrong_type_visits!(JEnum::Wrong, [visit_i64, visit_u64, visit_f64, visit_str]);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

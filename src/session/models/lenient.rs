//! Reads numbers and strings alike, and never lets a value reach an error message.

use secrecy::SecretString;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A field the server sent that is not a number where one is needed. The value is not kept (it
/// could be anything, a secret included); the login that needs it says which field it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

pub(crate) fn value_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A JSON number or a numeric string as `f64`. Strings that Rust reads as non-finite ("NaN",
/// "inf") are read as such: whoever uses the value checks it for sense.
pub(crate) fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(None),
        Value::String(ref s) if s.trim().is_empty() => Ok(None),
        ref other => value_f64(other)
            .map(Some)
            .ok_or_else(|| D::Error::custom("expected a number or a string of one")),
    }
}

pub(crate) fn opt_number_or_unreadable<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Result<f64, Unreadable>>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::Null => None,
        Value::String(ref s) if s.trim().is_empty() => None,
        ref other => Some(value_f64(other).ok_or(Unreadable)),
    })
}

pub(crate) fn value_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(None),
        Value::String(ref s) if s.trim().is_empty() => Ok(None),
        ref other => value_i64(other)
            .map(Some)
            .ok_or_else(|| D::Error::custom("expected an integer or a string of one")),
    }
}

pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(value_string(&v))
}

pub(crate) fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(SecretString::from(s)),
        _ => Err(D::Error::custom("expected the token to be a string")),
    }
}

pub(crate) fn opt_secret<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<SecretString>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(SecretString::from(s))),
        _ => Err(D::Error::custom("expected the token to be a string")),
    }
}

pub(crate) fn vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

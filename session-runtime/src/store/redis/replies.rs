//! Reading what Redis answers: load replies and Cluster snapshots, as
//! bytes, into [`Record`]s. Nothing here panics on a reply, whatever it holds.

use redis::Value;
use time::OffsetDateTime;

use super::{INDEXED, LIVE};
use crate::store::{Record, StoreError};

/// A hash's fields as `HGETALL` answers them: names and values, as bytes.
pub(super) type RawFields = Vec<(Vec<u8>, Vec<u8>)>;

/// A field's text: session values are JSON, so UTF-8; anything else written
/// by another program is kept lossily, and its field then fails to decode and
/// falls back to its default.
pub(super) fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }
}

/// The record of a live key, from its fields and its remaining time in ms.
pub(super) fn record(fields: RawFields, pttl_ms: i64) -> Option<Record> {
    // -2: no such key; -1: no expiry, which this store never writes: not a
    // session of ours.
    if fields.is_empty() || pttl_ms < 0 {
        return None;
    }
    // A TTL read back so long that the sum leaves the calendar is no
    // session of ours: not live, and no panic.
    let expires_at =
        OffsetDateTime::now_utc().checked_add(time::Duration::milliseconds(pttl_ms))?;
    let fields = fields
        .into_iter()
        .filter(|(name, _)| {
            name.as_slice() != LIVE.as_bytes() && name.as_slice() != INDEXED.as_bytes()
        })
        .map(|(name, value)| (text(name), text(value)))
        .collect();
    Some(Record::new(fields, expires_at))
}

/// Reads `field, value, ...` as bytes.
pub(super) fn pairs(values: Vec<Value>) -> Result<RawFields, StoreError> {
    let mut values = values.into_iter();
    let mut fields = Vec::with_capacity(values.len() / 2);
    while let (Some(name), Some(value)) = (values.next(), values.next()) {
        let bytes = |v: &Value| {
            redis::from_redis_value::<Vec<u8>>(v).map_err(|err| {
                StoreError::corrupt("Redis answered a session field in an unexpected shape", err)
            })
        };
        fields.push((bytes(&name)?, bytes(&value)?));
    }
    Ok(fields)
}

/// Reads an `HGETALL` reply as bytes: a flat `field, value, ...` array
/// (RESP2) or a map (RESP3, for a connection that asked for it).
pub(super) fn hash_pairs(reply: Value) -> Result<RawFields, StoreError> {
    match reply {
        Value::Array(values) => pairs(values),
        Value::Map(entries) => pairs(entries.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        Value::Nil => Ok(Vec::new()),
        _ => Err(StoreError::msg(
            "Redis answered a load in an unexpected shape",
        )),
    }
}

/// Reads `{digest, pttl, field, value, ...}`: `None` for a key with no
/// expiry, which is not a session of ours, as [`record`] says.
pub(super) fn parse_snapshot(values: Vec<Value>) -> Result<Option<(String, Record)>, StoreError> {
    let bad = || StoreError::msg("Redis answered the regenerate snapshot in an unexpected shape");
    let mut values = values.into_iter();
    let digest: String = match values.next() {
        Some(v) => redis::from_redis_value(&v).map_err(|_| bad())?,
        None => return Err(bad()),
    };
    let pttl: i64 = match values.next() {
        Some(v) => redis::from_redis_value(&v).map_err(|_| bad())?,
        None => return Err(bad()),
    };
    let fields = pairs(values.collect())?;
    if fields.is_empty() {
        return Err(bad());
    }
    Ok(record(fields, pttl).map(|record| (digest, record)))
}

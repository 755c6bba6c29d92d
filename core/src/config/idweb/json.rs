//! Reading Id.Web's JSON the way .NET configuration does: comments and trailing commas allowed,
//! keys case-insensitive (two spellings of one key refused), values as strings or booleans, and
//! unknown keys named with the known key they most resemble.

use serde_json::{Map, Value};

use crate::config::jsonc;
use crate::error::{Error, ErrorCode, Result};
use crate::support::echo::echo;

/// The JSON as .NET configuration reads it (comments, trailing commas), with syntax errors placed
/// at the line and column of the user's text.
pub(super) fn parse_json(json: &str, origin: &str) -> Result<Value> {
    let strict = jsonc::strip(json).map_err(|e| {
        Error::config(ErrorCode::InvalidConfig, format!("the {origin} {e}"))
            .with_remedy("Close the comment with */, or remove the stray /*.")
    })?;
    let value = serde_json::from_str(&strict).map_err(|e| {
        // serde_json ends its message with " at line L column C"; the place is said our way.
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        let place = match e.line() {
            0 => String::new(),
            line => format!(
                " at line {line}, column {}",
                jsonc::char_column(json, line, e.column())
            ),
        };
        Error::config(
            ErrorCode::InvalidConfig,
            format!("the {origin} is not valid JSON{place}: {message}"),
        )
        .with_remedy(
            "Fix the JSON there: keys and strings in double quotes, a comma between entries. \
             Comments and trailing commas are fine, as in .NET.",
        )
    })?;
    if let Some(duplicate) = jsonc::duplicate_key(json, &strict) {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!("the {origin} {duplicate}"),
        )
        .with_remedy(
            "Keep one of them: .NET's JSON configuration refuses a file with a key twice, and \
             which one a parser keeps is not something to rely on.",
        ));
    }
    Ok(value)
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}:{key}")
    }
}

pub(super) fn find<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<(&'a String, &'a Value)> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))
}

/// The value of `key` (case-insensitive); two keys that differ only in case are an error,
/// because .NET would silently keep the last one.
pub(super) fn lookup<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Value>> {
    let mut hits = obj.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
    let first = hits.next();
    if let (Some((a, _)), Some((b, _))) = (first, hits.next()) {
        return Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{} appears twice ('{}' and '{}'); keys are case-insensitive",
                join(path, key),
                echo(a),
                echo(b)
            ),
        ));
    }
    Ok(first.map(|(_, v)| v).filter(|v| !v.is_null()))
}

pub(super) fn string(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>> {
    match lookup(obj, key, path)? {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{} must be a string, not {}",
                join(path, key),
                type_name(other)
            ),
        )),
    }
}

pub(super) fn boolean(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>> {
    match lookup(obj, key, path)? {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        // .NET configuration carries everything as strings.
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        // Only short scalars are echoed: an object or array may hold a secret.
        Some(Value::String(s)) => Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{} must be true or false, not '{}'",
                join(path, key),
                echo(if s.len() <= 16 {
                    s
                } else {
                    "(a longer string)"
                })
            ),
        )),
        Some(other) => Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{} must be true or false, not {}",
                join(path, key),
                type_name(other)
            ),
        )),
    }
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(super) fn check_keys(obj: &Map<String, Value>, path: &str, allowed: &[&[&str]]) -> Result<()> {
    let known = || allowed.iter().flat_map(|list| list.iter());
    for key in obj.keys() {
        if known().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        // A typo is short; a long key would only make the comparison slow.
        let suggestion = known()
            .filter(|_| key.len() <= 64)
            .map(|k| {
                (
                    edit_distance(&k.to_ascii_lowercase(), &key.to_ascii_lowercase()),
                    *k,
                )
            })
            .filter(|(d, _)| *d <= 3)
            .min();
        let mut error = Error::config(
            ErrorCode::UnknownConfigKey,
            format!(
                "unknown key '{}' in the configuration",
                join(path, &echo(key).to_string())
            ),
        );
        error = match suggestion {
            Some((_, k)) => error.with_remedy(format!("Did you mean '{k}'?")),
            None => error.with_remedy(
                "Remove it; certless reads Microsoft.Identity.Web's keys \
                (Instance, TenantId, ClientId, ClientCredentials).",
            ),
        };
        return Err(error);
    }
    Ok(())
}

pub(in crate::config) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

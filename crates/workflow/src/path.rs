//! The JSONPath subset of ASL: `$` (the input), `$$` (the context object), fields by `.name`
//! or `['name']`, array elements by `[n]`; payload templates (keys ending in `.$` take a path
//! or an [intrinsic function](super::intrinsics)); and `ResultPath`'s placement of a result into
//! the input.

use serde_json::{Map, Value};

use super::TaskFailure;
use super::intrinsics;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
}

/// A parsed path: its root (`$` or `$$`) and its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    context: bool,
    steps: Vec<Step>,
}

fn bad(path: &str, why: &str) -> TaskFailure {
    TaskFailure::runtime(format!("invalid JSONPath {path:?}: {why}"))
}

fn parse(path: &str) -> Result<Parsed, TaskFailure> {
    let (context, mut rest) = if let Some(r) = path.strip_prefix("$$") {
        (true, r)
    } else if let Some(r) = path.strip_prefix('$') {
        (false, r)
    } else {
        return Err(bad(path, "a path starts with $"));
    };
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() || name == "*" || name.starts_with('.') {
                return Err(bad(path, "only plain field names are supported after `.`"));
            }
            steps.push(Step::Field(name.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r
                .find("']")
                .ok_or_else(|| bad(path, "unterminated ['…']"))?;
            steps.push(Step::Field(r[..end].to_string()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| bad(path, "unterminated [n]"))?;
            let index = r[..end].parse::<usize>().map_err(|_| {
                bad(
                    path,
                    "only non-negative array indexes are supported in brackets",
                )
            })?;
            steps.push(Step::Index(index));
            rest = &r[end + 1..];
        } else {
            return Err(bad(path, "expected `.name`, `['name']` or `[n]`"));
        }
    }
    Ok(Parsed { context, steps })
}

/// The value at `path` in `input` (or in `context` for `$$` paths); `None` when absent.
pub fn lookup<'a>(
    path: &str,
    input: &'a Value,
    context: &'a Value,
) -> Result<Option<&'a Value>, TaskFailure> {
    let parsed = parse(path)?;
    let mut current = if parsed.context { context } else { input };
    for step in &parsed.steps {
        let next = match step {
            Step::Field(name) => current.get(name.as_str()),
            Step::Index(i) => current.get(*i),
        };
        match next {
            Some(v) => current = v,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// The value at `path`; a `States.Runtime` failure when it is absent.
pub fn resolve(path: &str, input: &Value, context: &Value) -> Result<Value, TaskFailure> {
    lookup(path, input, context)?.cloned().ok_or_else(|| {
        TaskFailure::runtime(format!(
            "the JSONPath {path:?} could not be found in the input {}",
            abbreviate(if path.starts_with("$$") {
                context
            } else {
                input
            })
        ))
    })
}

/// A short rendering of a value for messages.
pub fn abbreviate(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// `InputPath` / `OutputPath`: absent keeps the value, `null` gives `{}`, a path selects.
pub fn select(path: &Option<Option<String>>, value: Value) -> Result<Value, TaskFailure> {
    match path {
        None => Ok(value),
        Some(None) => Ok(Value::Object(Map::new())),
        Some(Some(p)) if p == "$" => Ok(value),
        Some(Some(p)) => resolve(p, &value, &Value::Null),
    }
}

/// `ResultPath`: absent replaces the input with the result, `null` keeps the input, a path
/// puts the result there (creating objects on the way).
pub fn place(
    path: &Option<Option<String>>,
    input: Value,
    result: Value,
) -> Result<Value, TaskFailure> {
    let path = match path {
        None => return Ok(result),
        Some(None) => return Ok(input),
        Some(Some(p)) => p,
    };
    let parsed = parse(path)?;
    if parsed.context {
        return Err(bad(
            path,
            "a ResultPath cannot point into the context object",
        ));
    }
    if parsed.steps.is_empty() {
        return Ok(result);
    }
    let mut root = input;
    let mut slot = &mut root;
    for step in &parsed.steps {
        let Step::Field(name) = step else {
            return Err(bad(path, "a ResultPath may only name fields"));
        };
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(obj) = slot else {
            return Err(TaskFailure::new(
                "States.ResultPathMatchFailure",
                format!("cannot apply ResultPath {path:?}: {name:?} would go into a non-object"),
            ));
        };
        slot = obj.entry(name.clone()).or_insert(Value::Null);
    }
    *slot = result;
    Ok(root)
}

/// Evaluates a payload template (`Parameters`, `ResultSelector`, `ItemSelector`): keys ending
/// in `.$` take the value of a path or an intrinsic function; everything else is copied.
pub fn template(t: &Value, input: &Value, context: &Value) -> Result<Value, TaskFailure> {
    match t {
        Value::Object(obj) => {
            let mut out = Map::new();
            for (k, v) in obj {
                match k.strip_suffix(".$") {
                    Some(name) => {
                        let expr = v.as_str().ok_or_else(|| {
                            TaskFailure::runtime(format!(
                                "the value of {k:?} must be a path or an intrinsic function"
                            ))
                        })?;
                        out.insert(name.to_string(), expression(expr, input, context)?);
                    }
                    None => {
                        out.insert(k.clone(), template(v, input, context)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => Ok(Value::Array(
            items
                .iter()
                .map(|v| template(v, input, context))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(other.clone()),
    }
}

/// A `.$` value: a path or an intrinsic function call.
pub fn expression(expr: &str, input: &Value, context: &Value) -> Result<Value, TaskFailure> {
    if expr.starts_with('$') {
        resolve(expr, input, context)
    } else if expr.starts_with("States.") {
        intrinsics::evaluate(expr, input, context)
    } else {
        Err(TaskFailure::runtime(format!(
            "{expr:?} is neither a path nor an intrinsic function"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_reach_fields_indexes_and_the_context_object() {
        let input = json!({"a": {"b": [10, {"c": "x"}]}, "odd key": 1});
        let ctx = json!({"Map": {"Item": {"Value": "k"}}});
        let get = |p| lookup(p, &input, &ctx).unwrap().cloned();
        assert_eq!(get("$"), Some(input.clone()));
        assert_eq!(get("$.a.b[0]"), Some(json!(10)));
        assert_eq!(get("$.a.b[1].c"), Some(json!("x")));
        assert_eq!(get("$['odd key']"), Some(json!(1)));
        assert_eq!(get("$$.Map.Item.Value"), Some(json!("k")));
        assert_eq!(get("$.a.missing"), None);
        assert!(lookup("a.b", &input, &ctx).is_err());
        assert!(lookup("$..a", &input, &ctx).is_err());
    }

    #[test]
    fn a_missing_path_is_a_runtime_error_naming_the_path() {
        let err = resolve("$.nope", &json!({}), &Value::Null).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(err.cause.contains("$.nope"), "{}", err.cause);
    }

    #[test]
    fn result_path_replaces_keeps_or_nests_the_result() {
        let input = json!({"a": 1});
        assert_eq!(place(&None, input.clone(), json!(2)).unwrap(), json!(2));
        assert_eq!(place(&Some(None), input.clone(), json!(2)).unwrap(), input);
        assert_eq!(
            place(&Some(Some("$.x.y".into())), input.clone(), json!(2)).unwrap(),
            json!({"a": 1, "x": {"y": 2}})
        );
        let err = place(&Some(Some("$.a.b".into())), input, json!(2)).unwrap_err();
        assert_eq!(err.error, "States.ResultPathMatchFailure");
    }

    #[test]
    fn input_and_output_paths_select_or_empty_the_value() {
        let v = json!({"a": {"b": 1}});
        assert_eq!(select(&None, v.clone()).unwrap(), v);
        assert_eq!(select(&Some(None), v.clone()).unwrap(), json!({}));
        assert_eq!(
            select(&Some(Some("$.a".into())), v).unwrap(),
            json!({"b": 1})
        );
    }

    #[test]
    fn templates_resolve_dollar_keys_recursively_and_copy_the_rest() {
        let t = json!({
            "FunctionName": "${transformer_arn}",
            "Payload": {"key.$": "$.key", "list": [{"v.$": "$$.Map.Item.Index"}], "n": 1}
        });
        let out = template(
            &t,
            &json!({"key": "landing/a/b.csv"}),
            &json!({"Map": {"Item": {"Index": 3}}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "FunctionName": "${transformer_arn}",
                "Payload": {"key": "landing/a/b.csv", "list": [{"v": 3}], "n": 1}
            })
        );
    }
}

//! The intrinsic functions a payload template may call: `States.Format`,
//! `States.JsonToString`, `States.StringToJson`, `States.JsonMerge`, `States.Array`,
//! `States.ArrayLength` and `States.MathAdd`, with arguments that are string literals
//! (`'…'`, escapes `\'` `\{` `\}` `\\`), numbers, `true` / `false` / `null`, paths, or nested
//! calls. A failure is a `States.Runtime` error naming the function, as Step Functions reports it.

use serde_json::Value;

use super::TaskFailure;
use super::path;

/// A parsed argument.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A string literal, escapes still in place (so `States.Format` can tell `\{` from `{`).
    Str(String),
    /// A number, boolean or null.
    Literal(Value),
    /// A path.
    Path(String),
    /// A nested call.
    Call(String, Vec<Arg>),
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn fail(&self, why: &str) -> TaskFailure {
        TaskFailure::runtime(format!(
            "cannot parse the intrinsic function {:?} at byte {}: {why}",
            self.text, self.pos
        ))
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_spaces(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn call(&mut self) -> Result<(String, Vec<Arg>), TaskFailure> {
        let rest = self.rest();
        if !rest.starts_with("States.") {
            return Err(self.fail("expected States.<Name>("));
        }
        let open = rest.find('(').ok_or_else(|| self.fail("expected ("))?;
        let name = rest[..open].to_string();
        if !name[7..].chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(self.fail("bad function name"));
        }
        self.pos += open + 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.rest().starts_with(')') {
            self.pos += 1;
            return Ok((name, args));
        }
        loop {
            self.skip_spaces();
            args.push(self.arg()?);
            self.skip_spaces();
            match self.rest().chars().next() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok((name, args));
                }
                _ => return Err(self.fail("expected , or )")),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, TaskFailure> {
        let rest = self.rest();
        if let Some(body) = rest.strip_prefix('\'') {
            let mut escaped = false;
            for (i, c) in body.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '\'' => {
                        self.pos += 1 + i + 1;
                        return Ok(Arg::Str(body[..i].to_string()));
                    }
                    _ => {}
                }
            }
            return Err(self.fail("unterminated string"));
        }
        if rest.starts_with("States.") {
            let (name, args) = self.call()?;
            return Ok(Arg::Call(name, args));
        }
        // A path or a literal runs to the next `,` or `)` outside brackets and quotes.
        let mut depth = 0usize;
        let mut quoted = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '\'' => quoted = !quoted,
                '[' if !quoted => depth += 1,
                ']' if !quoted => depth = depth.saturating_sub(1),
                ',' | ')' if !quoted && depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let token = rest[..end].trim();
        self.pos += end;
        if token.starts_with('$') {
            return Ok(Arg::Path(token.to_string()));
        }
        match serde_json::from_str::<Value>(token) {
            Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => Ok(Arg::Literal(v)),
            _ => Err(self.fail(&format!("{token:?} is not an argument"))),
        }
    }
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Evaluates an intrinsic function call against the input and the context object.
pub fn evaluate(expr: &str, input: &Value, context: &Value) -> Result<Value, TaskFailure> {
    let mut parser = Parser { text: expr, pos: 0 };
    let (name, args) = parser.call()?;
    parser.skip_spaces();
    if !parser.rest().is_empty() {
        return Err(parser.fail("unexpected text after the call"));
    }
    call(&name, &args, input, context)
        .map_err(|why| TaskFailure::runtime(format!("the function {expr} failed: {why}")))
}

fn value_of(arg: &Arg, input: &Value, context: &Value) -> Result<Value, String> {
    match arg {
        Arg::Str(raw) => Ok(Value::String(unescape(raw))),
        Arg::Literal(v) => Ok(v.clone()),
        Arg::Path(p) => path::resolve(p, input, context).map_err(|f| f.cause),
        Arg::Call(name, args) => call(name, args, input, context),
    }
}

fn count(name: &str, args: &[Arg], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("{name} takes {n} argument(s), got {}", args.len()))
    }
}

fn call(name: &str, args: &[Arg], input: &Value, context: &Value) -> Result<Value, String> {
    let values = || -> Result<Vec<Value>, String> {
        args.iter().map(|a| value_of(a, input, context)).collect()
    };
    match name {
        "States.Format" => {
            let Some(Arg::Str(raw)) = args.first() else {
                return Err("the first argument of States.Format must be a string literal".into());
            };
            let mut rest = values()?.into_iter().skip(1);
            let mut out = String::new();
            let mut chars = raw.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            out.push(n);
                        }
                    }
                    '{' if chars.peek() == Some(&'}') => {
                        chars.next();
                        match rest.next() {
                            Some(Value::String(s)) => out.push_str(&s),
                            Some(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => {
                                out.push_str(&v.to_string())
                            }
                            Some(other) => {
                                return Err(format!(
                                    "States.Format takes strings, numbers, booleans or null, not {other}"
                                ));
                            }
                            None => return Err("more {} than arguments".into()),
                        }
                    }
                    c => out.push(c),
                }
            }
            if rest.next().is_some() {
                return Err("more arguments than {}".into());
            }
            Ok(Value::String(out))
        }
        "States.JsonToString" => {
            count(name, args, 1)?;
            let v = values()?.remove(0);
            serde_json::to_string(&v)
                .map(Value::String)
                .map_err(|e| e.to_string())
        }
        "States.StringToJson" => {
            count(name, args, 1)?;
            match values()?.remove(0) {
                Value::String(s) => serde_json::from_str(&s).map_err(|e| e.to_string()),
                other => Err(format!("States.StringToJson takes a string, not {other}")),
            }
        }
        "States.JsonMerge" => {
            count(name, args, 3)?;
            let mut v = values()?.into_iter();
            let (a, b, deep) = (v.next(), v.next(), v.next());
            if deep != Some(Value::Bool(false)) {
                return Err("only a shallow merge (false) is supported".into());
            }
            match (a, b) {
                (Some(Value::Object(mut a)), Some(Value::Object(b))) => {
                    for (k, v) in b {
                        a.insert(k, v);
                    }
                    Ok(Value::Object(a))
                }
                _ => Err("States.JsonMerge takes two objects".into()),
            }
        }
        "States.Array" => Ok(Value::Array(values()?)),
        "States.ArrayLength" => {
            count(name, args, 1)?;
            match values()?.remove(0) {
                Value::Array(a) => Ok(Value::from(a.len())),
                other => Err(format!("States.ArrayLength takes an array, not {other}")),
            }
        }
        "States.MathAdd" => {
            count(name, args, 2)?;
            let v = values()?;
            match (v[0].as_i64(), v[1].as_i64()) {
                (Some(a), Some(b)) => Ok(Value::from(a.saturating_add(b))),
                _ => Err("States.MathAdd takes two integers".into()),
            }
        }
        other => Err(format!("{other} is not supported by the local interpreter")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expr: &str, input: Value) -> Result<Value, TaskFailure> {
        evaluate(
            expr,
            &input,
            &json!({"Execution": {"Input": {"date": "2026-11-20"}}}),
        )
    }

    #[test]
    fn format_fills_placeholders_with_strings_numbers_and_nested_calls() {
        let out = eval(
            r"States.Format('{} rows, {}% rejected \{literal\} it\'s {}', $.n, $.pct, States.JsonToString($$.Execution.Input))",
            json!({"n": 12, "pct": 2.5}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!(r#"12 rows, 2.5% rejected {literal} it's {"date":"2026-11-20"}"#)
        );
    }

    #[test]
    fn json_merge_lets_the_second_object_win() {
        let out = eval(
            "States.JsonMerge($.defaults, $$.Execution.Input, false)",
            json!({"defaults": {"date": null, "max": 5}}),
        )
        .unwrap();
        assert_eq!(out, json!({"date": "2026-11-20", "max": 5}));
    }

    #[test]
    fn arrays_lengths_sums_and_string_to_json_work() {
        assert_eq!(
            eval("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(3)
        );
        assert_eq!(
            eval("States.Array('a', 1, true, null)", json!({})).unwrap(),
            json!(["a", 1, true, null])
        );
        assert_eq!(
            eval("States.MathAdd($.n, -1)", json!({"n": 5})).unwrap(),
            json!(4)
        );
        assert_eq!(
            eval("States.StringToJson($.s)", json!({"s": "{\"a\":[1]}"})).unwrap(),
            json!({"a": [1]})
        );
    }

    #[test]
    fn bad_calls_are_runtime_errors_naming_the_function() {
        for expr in [
            "States.Format('{} {}', $.a)",
            "States.JsonMerge($.a, $.a, true)",
            "States.Nope($.a)",
            "States.Format('x'",
            "States.ArrayLength($.missing)",
        ] {
            let err = eval(expr, json!({"a": {}})).unwrap_err();
            assert_eq!(err.error, "States.Runtime", "{expr}");
        }
    }
}

"""Consistency between the Rust functions, the Terraform under infrastructure/ and the state
machine in statemachine/: what `terraform validate` and a deploy would only reveal in AWS.

Usage: python3 tests/infra/consistency.py [REPO_ROOT]     (exit 1 and one line per problem)

What the code does is read from the code itself, never declared a second time:
- Lambda crates: every crates/*/ with src/main.rs whose Cargo.toml depends on lambda_runtime.
- Environment variables a function reads: its `Config::VARIABLES` and the shared set-up's (its
  logs), as the Rust code writes them to infrastructure/functions.json (a unit test keeps that
  file current), each with who sets it in AWS: the deployment (Terraform must set exactly
  these), the Lambda service (AWS_LAMBDA_LOG_FORMAT/LEVEL, from the module's logging_config),
  or nobody (overrides for emulators and debugging: RUST_LOG, SHOPFLOW_S3_FORCE_PATH_STYLE).
- AWS actions a function calls: its `Config::ACTIONS`, from the same manifest. The Rust tests
  keep that list true: each function's tests run it against moto with clients that grant only
  those actions (`shopflow_testkit::Role`: any other call fails as AWS would refuse it), and
  check that its ordinary path calls every action declared `always`.

What Terraform grants: the statements of each function role's inline policy whose `sid` starts
with `Code` must grant exactly the actions the code calls; statements whose `sid` starts with
`Platform` may only grant the platform actions below (logs, tracing, keys, failure
destinations, the Kinesis poller), and must grant the ones every function needs (logs, tracing,
the key). No action anywhere may contain `*`. A function deployed through a module
(modules/lambda_function) is read per call: the module's `var.` and `local.` references are
resolved against the call's arguments, so each call's environment and policy are the ones
checked. A policy document is read as the provider builds it: the statements of its
`source_policy_documents` (there, the caller's `policy_json`), its own statements (the
module's platform statements, `dynamic` ones included when the call produces them) and its
`override_policy_documents`.

The environments: each <env>.tfvars beside the root stack sets only variables the stack
declares, every variable that has no default, and `environment = "<env>"`.
"""

import functools
import json
import os
import pathlib
import re
import sys

try:
    import hcl2
except ImportError:  # pragma: no cover - the message is the point
    sys.stderr.write(
        "python-hcl2 is missing: install it with `python3 -m pip install python-hcl2` "
        "(the README's test command does this)\n"
    )
    sys.exit(3)

PLATFORM_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
    "sqs:SendMessage",
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:ListStreams",
    "kinesis:SubscribeToShard",
}

STATES_ERRORS = {
    "States.ALL",
    "States.Timeout",
    "States.TaskFailed",
    "States.Permissions",
    "States.HeartbeatTimeout",
    "States.DataLimitExceeded",
    "States.Runtime",
    "States.BranchFailed",
    "States.NoChoiceMatched",
    "States.IntrinsicFailure",
    "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
    "States.QueryEvaluationError",
}
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.Unknown",
}
# Errors of the optimised SNS integration: `SNS.` + the Publish API's exceptions.
SNS_ERRORS = {
    "SNS." + e
    for e in (
        "AmazonSNSException",
        "SdkClientException",
        "InternalErrorException",
        "ThrottledException",
        "KMSThrottlingException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "KMSAccessDeniedException",
        "KMSOptInRequired",
        "InvalidParameterException",
        "NotFoundException",
        "AuthorizationErrorException",
        "EndpointDisabledException",
    )
}


# ---------------------------------------------------------------- what the code does


def lambda_crates(root):
    out = []
    for cargo in sorted((root / "crates").glob("*/Cargo.toml")):
        crate = cargo.parent
        if (crate / "src" / "main.rs").exists() and "lambda_runtime" in cargo.read_text():
            out.append(crate.name)
    return out


@functools.lru_cache(maxsize=None)
def _manifest(root):
    """The deployment manifest the Rust code writes (infrastructure/functions.json, kept current
    by shopflow-core's unit test `the_committed_deployment_manifest_is_current`), read once per
    root."""
    return json.loads((pathlib.Path(root) / "infrastructure" / "functions.json").read_text())


def environment(root, crate):
    """{variable: who sets it} for the variables `crate` reads: its Config::VARIABLES and the
    shared set-up's. `deployment`: Terraform's environment must set it; `lambda_service`: Lambda
    sets it from the function's logging_config (AWS_LAMBDA_* names are reserved); `override`:
    for emulators and debugging, left unset in AWS."""
    manifest = _manifest(root)
    function = manifest["functions"].get(crate)
    if function is None:
        return {}
    return {v["name"]: v["set_by"] for v in function["environment"] + manifest["shared_environment"]}


def env_reads(root, crate):
    """The environment variables `crate` reads that the deployment sets."""
    return {name for name, by in environment(root, crate).items() if by == "deployment"}


def declared_actions(root, crate):
    """The IAM actions `crate`'s code calls: its Config::ACTIONS (those of the ordinary path and
    those only a named path takes, such as aborting a failed multipart upload)."""
    function = _manifest(root)["functions"].get(crate)
    if function is None:
        return set()
    return {a["name"] for a in function["actions"]}


def _block(text, start):
    """The text from `start` to the brace that closes the first `{` after it."""
    open_at = text.find("{", start)
    if open_at < 0:
        return ""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return text[start:]


def emitted_errors(root):
    text = (root / "crates" / "core" / "src" / "functions" / "mod.rs").read_text()
    return set(re.findall(r'"(ShopFlow\.[A-Za-z]+)"', text))


# ---------------------------------------------------------------- what Terraform says


def _unquote(x):
    if isinstance(x, str) and len(x) >= 2 and x[0] == '"' and x[-1] == '"':
        return x[1:-1]
    return x


def _norm(v):
    if isinstance(v, dict):
        return {_unquote(k): _norm(x) for k, x in v.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return _unquote(v)


def load_hcl(infra):
    """Every block of every .tf file, keyed (kind, type, "<directory>:<name>") with its
    attributes and file: resources and data sources, module calls (type "module"), variables
    (type "variable") and each directory's locals (type "locals", name "")."""
    blocks = {}
    texts = {}
    for path in sorted(infra.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        texts[path] = path.read_text()
        with path.open() as f:
            doc = _norm(hcl2.load(f))
        where = os.path.normpath(str(path.parent))
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                for rtype, named in entry.items():
                    for name, attrs in named.items():
                        blocks[(kind, rtype, f"{where}:{name}")] = (attrs, path)
        for kind in ("module", "variable"):
            for entry in doc.get(kind, []):
                for name, attrs in entry.items():
                    blocks[(kind, kind, f"{where}:{name}")] = (attrs, path)
        for entry in doc.get("locals", []):
            key = ("locals", "locals", f"{where}:")
            merged = dict(blocks.get(key, ({}, path))[0])
            merged.update(entry)
            blocks[key] = (merged, path)
    return blocks, texts


def _first(v):
    return v[0] if isinstance(v, list) and v else v


def _ref(text, prefix):
    m = re.search(re.escape(prefix) + r"\.(\w+)", text if isinstance(text, str) else "")
    return m.group(1) if m else None


def _directory(key):
    return key[2].rsplit(":", 1)[0]


class Function:
    """One deployed function: an aws_lambda_function written out, or one call of a module that
    holds one. In a module, `var.` and `local.` references are read from the call's arguments
    and the module's locals, so that each call is checked with its own environment and policy."""

    def __init__(self, blocks, key, call=None):
        self.blocks = blocks
        self.attrs = blocks[key][0]
        self.module = _directory(key)
        address = f"aws_lambda_function.{key[2].rsplit(':', 1)[1]}"
        if call is None:
            self.label = f"{self.module}:{address}"
            self.inputs, self.caller = {}, None
        else:
            self.label = f"{_directory(call)}:module.{call[2].rsplit(':', 1)[1]}.{address}"
            self.inputs, self.caller = blocks[call][0], _directory(call)
        self.locals = blocks.get(("locals", "locals", f"{self.module}:"), ({}, None))[0]

    def resolve(self, value):
        """`value` with the module's `${var.x}` and `${local.x}` replaced by their values: a whole
        reference by the value itself (a map stays a map), a reference inside a string by the
        value's text. Returns the value and the directory whose blocks its references name."""
        where = self.module
        scopes = {"local": self.locals, "var": self.inputs}
        for _ in range(8):
            if not isinstance(value, str):
                break
            whole = re.fullmatch(r"\$\{(var|local)\.(\w+)\}", value)
            if whole and whole.group(2) in scopes[whole.group(1)]:
                value = scopes[whole.group(1)][whole.group(2)]
                if whole.group(1) == "var":
                    where = self.caller
                continue

            def text(m):
                found = scopes[m.group(1)].get(m.group(2))
                return found if isinstance(found, str) else m.group(0)

            new = re.sub(r"\$\{(var|local)\.(\w+)\}", text, value)
            if new == value:
                break
            value = new
        return value, where

    def crate(self):
        filename, _ = self.resolve(self.attrs.get("filename", "") or "")
        m = re.search(r"/([\w-]+)/bootstrap\.zip", filename if isinstance(filename, str) else "")
        return m.group(1) if m else None

    def environment(self):
        """The names of the environment variables it sets, or None when they are not a map."""
        env = _first(self.attrs.get("environment", [])) or {}
        variables, _ = self.resolve(_first(env.get("variables", {})) if env else {})
        return set(variables.keys()) if isinstance(variables, dict) else None

    def logging_config(self):
        """Its logging_config block's settings (format, application log level), {} without one;
        a level given by the call is resolved to the call's value."""
        config = _first(self.attrs.get("logging_config", [])) or {}
        return {k: self.resolve(_first(v))[0] for k, v in config.items()}

    def role_statements(self):
        """The inline policy statements of its role: the policy documents of the role policies
        attached to it (in the module, or given by the call), each document merged as the
        provider merges it (see `document_statements`)."""
        role = _ref(self.attrs.get("role", ""), "aws_iam_role")
        statements = []
        for (kind, rtype, name), (a, _) in self.blocks.items():
            if rtype != "aws_iam_role_policy" or name.rsplit(":", 1)[0] != self.module:
                continue
            if _ref(a.get("role", ""), "aws_iam_role") != role:
                continue
            statements.extend(self.document_statements(a.get("policy", ""), self.module))
        return role, statements

    def document_statements(self, ref, where, seen=None):
        """The statements of the aws_iam_policy_document that `ref` (a `.json` reference made in
        directory `where`) names, as the provider builds them: the statements of its
        source_policy_documents, then its own `statement` blocks and the `dynamic "statement"`
        blocks this call produces, then its override_policy_documents; a statement whose sid is
        already there replaces that one. A reference made in the module is resolved against the
        call, so the module's platform statements and the caller's document are both found."""
        if where == self.module:
            ref, where = self.resolve(ref)
        doc = _ref(ref, "data.aws_iam_policy_document")
        key = ("data", "aws_iam_policy_document", f"{where}:{doc}")
        seen = set() if seen is None else seen
        if doc is None or key in seen or key not in self.blocks:
            return []
        seen.add(key)
        attrs = self.blocks[key][0]
        merged = []

        def add(statements):
            for st in statements:
                sid = st.get("sid")
                at = next((i for i, m in enumerate(merged) if sid and m.get("sid") == sid), None)
                if at is None:
                    merged.append(st)
                else:
                    merged[at] = st

        for source in attrs.get("source_policy_documents", []) or []:
            add(self.document_statements(source, where, seen))
        own = list(attrs.get("statement", []))
        for dynamic in attrs.get("dynamic", []):
            block = dynamic.get("statement")
            if block and self.produces(block.get("for_each"), where):
                own.extend(block.get("content", []))
        add(own)
        for override in attrs.get("override_policy_documents", []) or []:
            add(self.document_statements(override, where, seen))
        return merged

    def produces(self, for_each, where):
        """Whether a dynamic block with this `for_each` produces a block for this call: an
        `var.x == null ? [] : [...]` (or `var.x != null ? [...] : []`) in the module is decided by
        whether the call sets x; an empty list produces nothing; anything else counts as
        producing its block."""
        if for_each in ([], "[]", "${[]}"):
            return False
        if not isinstance(for_each, str) or where != self.module:
            return True
        m = re.fullmatch(r"\$\{var\.(\w+) (==|!=) null \? (\[\]|.+?) : (\[\]|.+)\}", for_each.strip())
        if not m:
            return True
        given = self.inputs.get(m.group(1)) not in (None, "null", "${null}")
        branch = m.group(4) if given == (m.group(2) == "==") else m.group(3)
        return branch != "[]"


def deployed_functions(blocks):
    """Every function Terraform deploys: each aws_lambda_function outside a module, and one per
    call of a module that holds one."""
    calls = {}
    for key, (attrs, path) in blocks.items():
        if key[0] == "module" and isinstance(attrs.get("source"), str):
            target = os.path.normpath(str(path.parent / attrs["source"]))
            calls.setdefault(target, []).append(key)
    out = []
    for key in sorted(k for k in blocks if k[:2] == ("resource", "aws_lambda_function")):
        callers = calls.get(_directory(key))
        if callers:
            out.extend(Function(blocks, key, call) for call in sorted(callers))
        else:
            out.append(Function(blocks, key))
    return out


def tfvars_problems(infra, blocks):
    """Each <env>.tfvars beside a root stack may set only variables the stack declares, must set
    every variable without a default, and must name its own environment."""
    problems = []
    for path in sorted(infra.rglob("*.tfvars")):
        if ".terraform" in path.parts:
            continue
        where = os.path.normpath(str(path.parent))
        declared = {}
        for (kind, _, name), (attrs, _) in blocks.items():
            if kind == "variable" and name.rsplit(":", 1)[0] == where:
                declared[name.rsplit(":", 1)[1]] = attrs
        with path.open() as f:
            values = _norm(hcl2.load(f))
        shown = path.relative_to(infra)
        for name in sorted(set(values) - set(declared)):
            problems.append(f"{shown}: sets {name}, which the root stack does not declare")
        for name in sorted(n for n, attrs in declared.items() if "default" not in attrs):
            if name not in values:
                problems.append(f"{shown}: does not set {name}, which has no default")
        env = values.get("environment")
        if env is not None and env != path.stem:
            problems.append(f"{shown}: sets environment = {env!r}; {path.name} must deploy the environment {path.stem!r}")
    return problems


# ---------------------------------------------------------------- the checks

# What every function's role needs whatever its code does: JSON logs to its own log group,
# active tracing, and the stack's key (the environment and every resource are encrypted with it).
# modules/lambda_function grants them; a function without one of them would fail at run time.
PLATFORM_EVERY_FUNCTION = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "kms:Decrypt",
    "kms:GenerateDataKey",
}


def check(root, infra=None, asl=None):
    root = pathlib.Path(root)
    infra = pathlib.Path(infra) if infra else root / "infrastructure"
    asl = pathlib.Path(asl) if asl else root / "statemachine" / "pipeline.asl.json"
    problems = []
    blocks, texts = load_hcl(infra)
    functions = deployed_functions(blocks)
    crates = lambda_crates(root)

    by_crate = {}
    for function in functions:
        crate = function.crate()
        if crate:
            by_crate[crate] = function
    for crate in crates:
        if crate not in by_crate:
            problems.append(f"{crate}: no aws_lambda_function with the artifact path {crate}/bootstrap.zip")
    for crate, function in sorted(by_crate.items()):
        if crate not in crates:
            problems.append(f"{function.label}: deploys {crate}/bootstrap.zip, which no Lambda crate builds")
            continue
        set_vars = function.environment()
        if set_vars is None:
            problems.append(f"{crate}: its environment variables are not written out as a map, so they cannot be checked")
            set_vars = set()
        reads = environment(root, crate)
        read = {name for name, by in reads.items() if by == "deployment"}
        for var in sorted(read - set_vars):
            problems.append(f"{crate}: reads environment variable {var}, which Terraform does not set")
        for var in sorted(set_vars - read):
            if var in reads:
                problems.append(f"{crate}: Terraform sets environment variable {var}, which is set by {reads[var]}, not the deployment")
            else:
                problems.append(f"{crate}: Terraform sets environment variable {var}, which the function never reads")

        # The variables Lambda sets come from the function's logging_config: JSON lines (which
        # the Lambda service filters by their level), and an application level.
        if "lambda_service" in reads.values():
            logging = function.logging_config()
            if str(logging.get("log_format", "")).upper() != "JSON":
                problems.append(f"{crate}: reads Lambda's log settings, but its logging_config does not set log_format = \"JSON\"")
            if not logging.get("application_log_level"):
                problems.append(f"{crate}: reads Lambda's log settings, but its logging_config sets no application_log_level")

        role, statements = function.role_statements()
        if not statements:
            problems.append(f"{crate}: no inline policy found for its role aws_iam_role.{role}")
            continue
        granted_code, granted_platform = set(), set()
        for st in statements:
            actions = st.get("actions", [])
            for a in actions:
                if "*" in a:
                    problems.append(f"{crate}: role grants a wildcard action {a}")
            sid = st.get("sid", "")
            if sid.startswith("Code"):
                granted_code |= set(actions)
            elif sid.startswith("Platform"):
                granted_platform |= set(actions)
            else:
                problems.append(f"{crate}: policy statement {sid or '(no sid)'} is neither Code* nor Platform*")
        calls = declared_actions(root, crate)
        for a in sorted(calls - granted_code):
            problems.append(f"{crate}: calls {a}, which its role does not grant")
        for a in sorted(granted_code - calls):
            problems.append(f"{crate}: role grants {a}, which the function never calls")
        for a in sorted(granted_platform - PLATFORM_ACTIONS):
            problems.append(f"{crate}: platform statement grants {a}, which is not a platform action")
        for a in sorted(PLATFORM_EVERY_FUNCTION - granted_platform):
            problems.append(f"{crate}: its role lacks the platform action {a}, which every function needs")

    problems += tfvars_problems(infra, blocks)

    for (kind, rtype, name), (attrs, _) in blocks.items():
        if rtype == "aws_cloudwatch_metric_alarm":
            actions = attrs.get("alarm_actions") or []
            if not actions or actions == [[]]:
                problems.append(f"alarm {name}: no alarm_actions")

    definition = json.loads(asl.read_text())
    placeholders = set(re.findall(r"\$\{(\w+)\}", asl.read_text()))
    tf_vars = set()
    for path, text in texts.items():
        for m in re.finditer(r"templatefile\(\s*[^,]*pipeline\.asl\.json[^,]*,\s*\{(.*?)\}\s*\)", text, re.S):
            tf_vars |= set(re.findall(r"^\s*(\w+)\s*=", m.group(1), re.M))
    if not tf_vars:
        problems.append("no templatefile() renders statemachine/pipeline.asl.json")
    for v in sorted(placeholders - tf_vars):
        problems.append(f"state machine uses ${{{v}}}, which templatefile() does not provide")
    for v in sorted(tf_vars - placeholders):
        problems.append(f"templatefile() provides {v}, which the state machine never uses")

    allowed_errors = STATES_ERRORS | LAMBDA_ERRORS | SNS_ERRORS | emitted_errors(root)
    for state_name, state in walk_states(definition):
        if state.get("Type") == "Task":
            params = state.get("Parameters") or state.get("Arguments") or {}
            target = params.get("FunctionName") or ""
            resource = state.get("Resource", "")
            if "lambda:invoke" in resource or ":function:" in resource or target:
                ref = target or resource
                m = re.fullmatch(r"\$\{(\w+)_arn\}(?::\$LATEST)?", ref)
                crate = m.group(1).replace("_", "-") if m else None
                if crate is None or crate not in by_crate:
                    problems.append(f"state {state_name}: invokes {ref}, which is no deployed function")
        for clause in state.get("Retry", []) + state.get("Catch", []):
            for err in clause.get("ErrorEquals", []):
                if err not in allowed_errors:
                    problems.append(f"state {state_name}: ErrorEquals {err}, which no function emits")
    return problems


def walk_states(definition):
    for name, state in definition.get("States", {}).items():
        yield name, state
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from walk_states(state[key])
        for branch in state.get("Branches", []):
            yield from walk_states(branch)


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    problems = check(root)
    for p in problems:
        print(p)
    print(f"consistency: {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

"""The consistency checks pass on the repository and fail, each with its own message, on a
deliberately broken copy of the Terraform or the state machine.

Run: python3 -m unittest discover -s tests/infra -v
"""

import pathlib
import re
import shutil
import tempfile
import unittest

import consistency

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Copy:
    """A scratch copy of infrastructure/ and statemachine/ to break."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="shopflow-infra-"))
        shutil.copytree(ROOT / "infrastructure", self.dir / "infrastructure",
                        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
        shutil.copytree(ROOT / "statemachine", self.dir / "statemachine")

    def edit(self, relative, pattern, replacement, count=1, flags=0):
        path = self.dir / relative
        text = path.read_text()
        new, n = re.subn(pattern, replacement, text, count=count, flags=flags)
        assert n > 0, f"the fixture edit found nothing to change in {relative}: {pattern}"
        path.write_text(new)

    def edit_block(self, relative, header, pattern, replacement):
        """Edits the first match of `pattern` inside the block that starts with `header`."""
        path = self.dir / relative
        text = path.read_text()
        start = text.index(header)
        block = consistency._block(text, start)
        new_block, n = re.subn(pattern, replacement, block, count=1)
        assert n > 0, f"nothing to change in {header}: {pattern}"
        path.write_text(text[:start] + new_block + text[start + len(block):])

    def problems(self):
        return consistency.check(
            ROOT,
            infra=self.dir / "infrastructure",
            asl=self.dir / "statemachine" / "pipeline.asl.json",
        )

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


STACK = "infrastructure/stack/main.tf"
FUNCTIONS = "infrastructure/modules/functions/main.tf"
LAMBDA_FUNCTION = "infrastructure/modules/lambda_function/main.tf"
DEV_TFVARS = "infrastructure/stack/dev.tfvars"
PROD_TFVARS = "infrastructure/stack/prod.tfvars"
ASL = "statemachine/pipeline.asl.json"


class ConsistencyTest(unittest.TestCase):
    def setUp(self):
        self.copy = Copy()

    def tearDown(self):
        self.copy.close()

    def assertProblem(self, expected):
        problems = self.copy.problems()
        self.assertTrue(
            any(expected in p for p in problems),
            f"expected a problem containing {expected!r}, got {problems}",
        )

    def test_the_repository_is_consistent(self):
        self.assertEqual(consistency.check(ROOT), [])

    def test_an_untouched_copy_is_consistent(self):
        self.assertEqual(self.copy.problems(), [])

    def test_a_lambda_crate_without_a_function_resource_fails(self):
        self.copy.edit(FUNCTIONS, r'crate(\s*)= "transformer"', r'crate\1= "transformer-old"')
        self.assertProblem("transformer: no aws_lambda_function with the artifact path transformer/bootstrap.zip")
        self.assertProblem("module.transformer.aws_lambda_function.this: deploys transformer-old/bootstrap.zip, which no Lambda crate builds")

    def test_a_function_written_out_without_the_lambda_module_is_checked_too(self):
        for relative, name in ((FUNCTIONS, "old_fetch"), (STACK, "older_fetch")):
            path = self.copy.dir / relative
            path.write_text(path.read_text() + f'''
resource "aws_lambda_function" "{name}" {{
  function_name = "{name}"
  role          = "arn:aws:iam::123456789012:role/{name}"
  filename      = "${{local.artifact_dir}}/{name}/bootstrap.zip"
}}
''')
        self.assertProblem("stack:module.functions.aws_lambda_function.old_fetch: deploys old_fetch/bootstrap.zip, which no Lambda crate builds")
        self.assertProblem("stack:aws_lambda_function.older_fetch: deploys older_fetch/bootstrap.zip, which no Lambda crate builds")

    def test_a_module_that_adds_environment_variables_of_its_own_fails(self):
        self.copy.edit(LAMBDA_FUNCTION, r"variables = var\.environment", 'variables = merge(var.environment, { EXTRA = "1" })')
        self.assertProblem("transformer: its environment variables are not written out as a map, so they cannot be checked")

    def test_a_variable_the_function_reads_but_terraform_does_not_set_fails(self):
        self.copy.edit(FUNCTIONS, r"\n\s*LEDGER_TABLE\s*=[^\n]*", "")
        self.assertProblem("transformer: reads environment variable LEDGER_TABLE, which Terraform does not set")

    def test_a_variable_terraform_sets_but_no_function_reads_fails(self):
        self.copy.edit(FUNCTIONS, r"(\n(\s*)LEDGER_TABLE\s*=[^\n]*)", r'\1\n\2LEDGER_TABEL = "typo"')
        self.assertProblem("transformer: Terraform sets environment variable LEDGER_TABEL, which the function never reads")

    def test_an_action_the_code_calls_but_the_role_lacks_fails(self):
        self.copy.edit_block(FUNCTIONS, 'data "aws_iam_policy_document" "transformer"',
                             r',\s*"dynamodb:DeleteItem"|"dynamodb:DeleteItem",\s*', "")
        self.assertProblem("transformer: calls dynamodb:DeleteItem, which its role does not grant")

    def test_an_action_the_role_grants_but_the_code_never_calls_fails(self):
        self.copy.edit_block(FUNCTIONS, 'data "aws_iam_policy_document" "product_fetch"',
                             r'"s3:PutObject"', '"s3:PutObject", "s3:DeleteObject"')
        self.assertProblem("product-fetch: role grants s3:DeleteObject, which the function never calls")

    def test_a_stray_action_in_the_modules_platform_statements_fails_for_every_function(self):
        self.copy.edit_block(LAMBDA_FUNCTION, 'data "aws_iam_policy_document" "policy"',
                             r'"xray:PutTelemetryRecords"', '"xray:PutTelemetryRecords", "s3:DeleteObject"')
        for crate in ("ingest-trigger", "product-fetch", "transformer", "report-generator"):
            self.assertProblem(f"{crate}: platform statement grants s3:DeleteObject, which is not a platform action")

    def test_a_platform_statement_the_module_drops_fails(self):
        self.copy.edit_block(LAMBDA_FUNCTION, 'data "aws_iam_policy_document" "policy"',
                             r'"logs:CreateLogStream", "logs:PutLogEvents"', '"logs:CreateLogStream"')
        self.assertProblem("report-generator: its role lacks the platform action logs:PutLogEvents, which every function needs")

    def test_a_caller_statement_with_a_platform_sid_is_replaced_by_the_modules(self):
        # The provider lets the module's statement replace a source statement with the same sid,
        # so a code grant hidden under a platform sid is not in the role: the checker says so.
        self.copy.edit(FUNCTIONS, r'sid(\s*)= "CodeSnsPublish"', r'sid\1= "PlatformKms"')
        self.assertProblem("report-generator: calls sns:Publish, which its role does not grant")

    def test_a_function_without_lambdas_log_settings_fails(self):
        self.copy.edit(LAMBDA_FUNCTION, r"\n\s*application_log_level\s*=[^\n]*", "")
        self.assertProblem("transformer: reads Lambda's log settings, but its logging_config sets no application_log_level")

    def test_a_function_logging_text_fails(self):
        self.copy.edit(LAMBDA_FUNCTION, r'log_format(\s*)= "JSON"', r'log_format\1= "Text"')
        self.assertProblem('report-generator: reads Lambda\'s log settings, but its logging_config does not set log_format = "JSON"')

    def test_terraform_setting_an_emulator_override_fails(self):
        self.copy.edit(FUNCTIONS, r"(\n(\s*)LEDGER_TABLE\s*=[^\n]*)", r'\1\n\2RUST_LOG = "debug"')
        self.assertProblem("transformer: Terraform sets environment variable RUST_LOG, which is set by override, not the deployment")

    def test_a_wildcard_action_fails(self):
        self.copy.edit_block(FUNCTIONS, 'data "aws_iam_policy_document" "report_generator"',
                             r'"sns:Publish"', '"sns:*"')
        self.assertProblem("report-generator: role grants a wildcard action sns:*")

    def test_an_environment_file_setting_a_variable_the_stack_does_not_declare_fails(self):
        self.copy.edit(PROD_TFVARS, r'(environment = "prod"\n)', r'\1lambda_memmory_mb = {}\n')
        self.assertProblem("stack/prod.tfvars: sets lambda_memmory_mb, which the root stack does not declare")

    def test_an_environment_file_leaving_out_a_variable_without_default_fails(self):
        self.copy.edit(DEV_TFVARS, r"\nforce_destroy\s*=[^\n]*", "")
        self.assertProblem("stack/dev.tfvars: does not set force_destroy, which has no default")

    def test_an_environment_file_naming_another_environment_fails(self):
        self.copy.edit(PROD_TFVARS, r'environment = "prod"', 'environment = "dev"')
        self.assertProblem("stack/prod.tfvars: sets environment = 'dev'; prod.tfvars must deploy the environment 'prod'")

    def test_a_task_naming_a_function_that_does_not_exist_fails(self):
        self.copy.edit(ASL, r"\$\{report_generator_arn\}", "${report_builder_arn}", count=0)
        self.assertProblem("invokes ${report_builder_arn}, which is no deployed function")
        self.assertProblem("state machine uses ${report_builder_arn}, which templatefile() does not provide")

    def test_an_error_type_no_function_emits_fails(self):
        self.copy.edit(ASL, r'"ShopFlow\.Retryable"', '"ShopFlow.Transient"')
        self.assertProblem("ErrorEquals ShopFlow.Transient, which no function emits")

    def test_an_alarm_without_an_action_fails(self):
        monitoring = "infrastructure/modules/monitoring/main.tf"
        self.copy.edit(monitoring, r"\n\s*alarm_actions\s*=\s*[^\n]*", "")
        self.assertProblem("no alarm_actions")


class TerraformFactsTest(unittest.TestCase):
    """What the checker reads from the Terraform, on the real repository."""

    def test_reads_each_functions_code_and_platform_statements_through_the_module(self):
        blocks, _ = consistency.load_hcl(ROOT / "infrastructure")
        sids = {f.crate(): {st.get("sid") for st in f.role_statements()[1]}
                for f in consistency.deployed_functions(blocks)}
        every = {"PlatformKms", "PlatformLogs", "PlatformXRay"}
        self.assertEqual(sids["ingest-trigger"],
                         {"CodeKinesisPutRecords", "CodeRunsTable", "PlatformAsyncFailureDestination"} | every)
        self.assertEqual(sids["product-fetch"],
                         {"CodeS3PutRawPages", "CodeProductsTable", "PlatformKinesisEventSource",
                          "PlatformEventSourceFailureDestination"} | every)
        # Only the asynchronously invoked functions get the on-failure destination statement.
        self.assertIn("PlatformAsyncFailureDestination", sids["transformer"])
        self.assertNotIn("PlatformAsyncFailureDestination", sids["report-generator"])
        self.assertIn("CodeSnsPublish", sids["report-generator"])


class CodeFactsTest(unittest.TestCase):
    """What the checker reads from the Rust code, on the real repository."""

    def test_finds_the_four_lambda_crates(self):
        self.assertEqual(
            consistency.lambda_crates(ROOT),
            ["ingest-trigger", "product-fetch", "report-generator", "transformer"],
        )

    def test_reads_required_and_optional_variables(self):
        self.assertTrue({"LAKE_BUCKET", "LEDGER_TABLE", "BATCH_ROWS"}
                        <= consistency.env_reads(ROOT, "transformer"))
        # Set by Lambda from logging_config, or overrides for emulators: never by Terraform.
        self.assertEqual(consistency.environment(ROOT, "transformer")["AWS_LAMBDA_LOG_LEVEL"], "lambda_service")
        self.assertEqual(consistency.environment(ROOT, "transformer")["RUST_LOG"], "override")
        self.assertNotIn("SHOPFLOW_S3_FORCE_PATH_STYLE", consistency.env_reads(ROOT, "transformer"))
        self.assertIn("PRODUCT_SOURCES", consistency.env_reads(ROOT, "ingest-trigger"))

    def test_reads_the_actions_each_function_declares(self):
        fetch = consistency.declared_actions(ROOT, "product-fetch")
        self.assertIn("s3:PutObject", fetch)
        self.assertNotIn("s3:DeleteObject", fetch)
        report = consistency.declared_actions(ROOT, "report-generator")
        self.assertIn("s3:DeleteObject", report)  # maintenance vacuums unreferenced files
        self.assertIn("sns:Publish", report)
        self.assertEqual(consistency.declared_actions(ROOT, "no-such-function"), set())

if __name__ == "__main__":
    unittest.main()

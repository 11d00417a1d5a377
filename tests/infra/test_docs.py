"""The docs' dataset tables against the contract set they describe: a dataset added, renamed or
given other file name prefixes in its contract (crates/core/contracts/*.toml) makes this fail
until docs/data-layers-and-contracts.md says the same. The silver schema and rule-id tables of
the same page are checked from the compiled contracts by shopflow-core's integration test
`docs` (crates/core/tests/it/docs.rs).

    python3 -m unittest discover -s tests/infra
"""

import pathlib
import re
import tomllib
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "crates" / "core" / "contracts"
DOC = ROOT / "docs" / "data-layers-and-contracts.md"


def contract_prefixes(directory):
    """{dataset: [prefixes]}: the dataset's name, then its file_patterns not already listed."""
    out = {}
    for path in sorted(directory.glob("*.toml")):
        contract = tomllib.loads(path.read_text())
        prefixes = [contract["dataset"]]
        prefixes += [p for p in contract.get("file_patterns", []) if p not in prefixes]
        out[contract["dataset"]] = prefixes
    return out


def documented_prefixes(text):
    """The rows of the table under `| dataset | file name prefixes |`."""
    lines = text.splitlines()
    start = lines.index("| dataset | file name prefixes |")
    out = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[cells[0].strip("`")] = re.findall(r"`([^`]+)`", cells[1])
    return out


class DatasetTables(unittest.TestCase):
    def test_the_routing_table_lists_every_contract_with_its_prefixes(self):
        self.assertEqual(documented_prefixes(DOC.read_text()), contract_prefixes(CONTRACTS))

    def test_a_contract_the_docs_do_not_list_is_caught(self):
        documented = documented_prefixes(DOC.read_text())
        contracts = contract_prefixes(CONTRACTS)
        contracts["returns"] = ["returns"]
        self.assertNotEqual(documented, contracts)


if __name__ == "__main__":
    unittest.main()

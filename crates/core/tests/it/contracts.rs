//! Contracts from a user's directory, without recompiling.

use shopflow_core::contract::ContractSet;

#[test]
fn a_contract_directory_replaces_and_adds_datasets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("returns.toml"),
        "dataset = \"returns\"\nversion = 1\nprimary_key = [\"return_id\"]\n[[columns]]\nname = \"return_id\"\ntype = \"string\"\nrequired = true\n",
    )
    .unwrap();
    let products =
        include_str!("../../contracts/products.toml").replace("version = 1", "version = 7");
    std::fs::write(dir.path().join("products.toml"), products).unwrap();
    let set = ContractSet::load_dir(dir.path()).unwrap();
    assert!(set.get("returns").is_ok());
    assert_eq!(set.get("products").unwrap().version, 7);
    assert_eq!(set.get("transactions").unwrap().version, 1);
}

#[test]
fn a_broken_contract_file_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "dataset = 3\n").unwrap();
    let err = ContractSet::load_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("bad.toml"), "{err}");
}

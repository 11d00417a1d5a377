# shellcheck shell=bash
# Sourced, not run: makes every cargo build of the workspace that follows also run clippy on the
# workspace's own crates, with the lints `cargo clippy --all-targets -- -D warnings` applies.
#
# `cargo clippy` is `cargo check` with clippy-driver as RUSTC_WORKSPACE_WRAPPER: it compiles
# every dependency a second time in check mode, apart from the test build. Setting the same
# wrapper on `cargo test --all-targets --no-run` lints the same targets while they are built,
# so each dependency compiles once (docs/adr/0005-one-compilation-for-lints-and-tests.md).
# Dependencies are never wrapped; only workspace members go through clippy-driver.
#
#   . scripts/lint-env.sh && cargo test --workspace --all-targets --no-run
_clippy_driver="$(rustc --print sysroot)/bin/clippy-driver"
if [ ! -x "$_clippy_driver" ]; then
  echo "missing clippy-driver: install it with 'rustup component add clippy'" >&2
  return 1
fi
export RUSTC_WORKSPACE_WRAPPER="$_clippy_driver"
# cargo-clippy's own encoding of the arguments after `--`: each one followed by the separator.
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
unset _clippy_driver

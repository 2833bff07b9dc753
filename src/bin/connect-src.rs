//! The `connect-src` command-line tool (feature `cli`). Subcommands arrive with the matcher.
fn main() {}

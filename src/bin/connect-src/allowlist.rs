//! `allowlist`: the `Connection-Allowlist` header value (WICG; Chromium 152+) the crate emits
//! for a connect-src list, with what it admits beyond the list and what it cannot say.

use std::process::ExitCode;

use clap::Args;
use connect_src::policy::Translation;

use crate::learn::list;
use crate::{source_list_only, USAGE};

/// `connect-src allowlist`.
#[derive(Args)]
pub(crate) struct AllowlistArgs {
    /// The connect-src value to translate (as `audit --policy` takes it).
    #[arg(long)]
    policy: String,
    /// Where the pages navigate and load from beyond the connect-src list (links, forms,
    /// images, scripts), as a connect-src value: `'self' https://docs.myapp.com`. Added to
    /// the items, translated as the list is.
    #[arg(long, value_name = "SOURCES")]
    navigations: Option<String>,
    /// Leave out `redirects=allow`: Chromium then blocks every redirect, even between
    /// listed URLs.
    #[arg(long = "block-redirects")]
    block_redirects: bool,
    /// The Reporting-Endpoints name to send reports to (a Structured Field token).
    #[arg(long = "report-to", value_name = "ENDPOINT")]
    report_to: Option<String>,
}

/// Prints the value on stdout (one line); on stderr `widening: <source> also admits …`,
/// `note: …` and `not translated: <source>: <why>`, one a line. Exit 0; 1 when a source
/// does not translate (the value for the rest is still printed); 2 on a list that does not
/// parse or a `--report-to` name that is not a token.
pub(crate) fn allowlist_cmd(args: AllowlistArgs) -> ExitCode {
    match run(&args) {
        Ok(code) | Err(code) => code,
    }
}

fn run(args: &AllowlistArgs) -> Result<ExitCode, ExitCode> {
    let t = translate(args)?;
    let value = header_value(&t, args)?;
    println!("{value}");
    for w in t.widenings() {
        eprintln!("widening: {} also admits {}", w.source, w.admits);
    }
    for n in t.notes() {
        eprintln!("note: {n}");
    }
    for u in t.untranslated() {
        eprintln!("not translated: {}: {}", u.source, u.why);
    }
    Ok(if t.untranslated().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The translation of `--policy`, then of `--navigations`; `Err(2)` (with the message on
/// stderr) when either does not parse as a connect-src value.
fn translate(args: &AllowlistArgs) -> Result<Translation, ExitCode> {
    source_list_only("--policy", &args.policy)?;
    let mut t = Translation::of(&list("--policy", &args.policy)?);
    if let Some(n) = &args.navigations {
        source_list_only("--navigations", n)?;
        t.extend(Translation::of(&list("--navigations", n)?));
    }
    Ok(t)
}

/// The serialized value; `Err(2)` when `--report-to` is not a token (the value would not
/// read back as written), which is the only input that can make it fail.
fn header_value(t: &Translation, args: &AllowlistArgs) -> Result<String, ExitCode> {
    let redirects = !args.block_redirects;
    if let Some(v) = t.header_value(redirects, args.report_to.as_deref()) {
        return Ok(v);
    }
    match &args.report_to {
        Some(name) if t.header_value(redirects, None).is_some() => eprintln!(
            "error: --report-to {name:?} is not an endpoint name Chromium reads (a Structured \
             Field token: a letter or '*', then letters, digits and !#$%&'*+-.^_`|~:/)"
        ),
        _ => eprintln!("error: the allowlist for this list cannot be written as a header value"),
    }
    Err(ExitCode::from(USAGE))
}

//! The connection string as libpq reads it: tokio-postgres's own options, plus `sslmode`
//! (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`) and `sslrootcert` (a PEM
//! file of CA certificates, or `system`), which tokio-postgres does not know; TLS with
//! rustls (ring), trusting the system's roots or a CA file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls::{Error as TlsError, SignatureScheme};
use tokio_postgres::config::SslMode as DriverMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::report::store::StoreError;

/// libpq's `sslmode`, as this store reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, its certificate unchecked; libpq's default.
    Prefer,
    /// TLS or no connection, the certificate unchecked (checked as `verify-ca` when a CA
    /// file is given, as libpq does).
    Require,
    /// TLS, the certificate signed by a trusted CA; any name.
    VerifyCa,
    /// TLS, the certificate signed by a trusted CA and naming the host connected to.
    VerifyFull,
}

impl Mode {
    fn parse(text: &str) -> Result<Mode, StoreError> {
        Ok(match text {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => {
                return Err(StoreError::configuration(Refused(format!(
                    "sslmode={other} is not one this store knows: give disable, prefer, \
                     require, verify-ca or verify-full"
                ))))
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }
}

/// A connection string this store cannot use: what is wrong and what to write.
#[derive(Debug)]
struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// A connection string tokio-postgres cannot read: its error, and the form to write.
#[derive(Debug)]
struct NotAUrl(tokio_postgres::Error);

impl fmt::Display for NotAUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a PostgreSQL URL ({}); expected postgres://user[:password]@host[:port]/database",
            self.0
        )
    }
}

impl std::error::Error for NotAUrl {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Where the trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    System,
    File(PathBuf),
}

impl fmt::Display for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::System => f.write_str("the system's CA certificates"),
            Roots::File(p) => write!(f, "the CA certificates in {}", p.display()),
        }
    }
}

/// What the store connects with: tokio-postgres's configuration, the TLS connector for its
/// `sslmode`, and a description of both for error messages.
pub(super) struct Connect {
    pub(super) config: tokio_postgres::Config,
    pub(super) tls: MakeRustlsConnect,
    /// `sslmode=…, trusting …`: said when a handshake fails.
    pub(super) tls_said: Arc<str>,
}

/// Reads `url` (libpq's forms) with the builder's `password` and `ca_file`.
///
/// # Errors
///
/// [`StoreError::Configuration`]: the text is not a connection string, `sslmode` is not
/// one of the five, a password is given twice, a CA file cannot be read or holds no
/// certificate, the system has no CA certificates for a `verify-*` mode.
pub(super) fn read(
    url: &str,
    password: Option<&str>,
    ca_file: Option<&Path>,
) -> Result<Connect, StoreError> {
    let (rest, tls) = split(url);
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e| StoreError::configuration(NotAUrl(e)))?;
    if let Some(password) = password {
        if config.get_password().is_some() {
            return Err(StoreError::configuration(Refused(
                "the connection string already has a password: give it once, in the URL or \
                 apart (PostgresSinkBuilder::password)"
                    .into(),
            )));
        }
        config.password(password);
    }
    let mode = tls.mode.as_deref().map_or(Ok(Mode::Prefer), Mode::parse)?;
    let roots = match (ca_file, tls.root_cert.as_deref()) {
        (Some(file), _) => Some(Roots::File(file.to_path_buf())),
        (None, Some("system")) => Some(Roots::System),
        (None, Some(file)) => Some(Roots::File(PathBuf::from(file))),
        (None, None) => None,
    };
    // libpq: `require` with a CA file checks the chain, as `verify-ca`; the system's
    // roots are for `verify-full` (any certificate a public CA signed would do otherwise).
    let mode = match (mode, &roots) {
        (Mode::Require, Some(Roots::File(_))) => Mode::VerifyCa,
        (Mode::Disable | Mode::Prefer | Mode::Require, Some(Roots::System)) => {
            return Err(StoreError::configuration(Refused(format!(
                "sslrootcert=system with sslmode={} checks nothing: give sslmode=verify-full",
                mode.as_str()
            ))))
        }
        // No name checked, any public CA trusted: any certificate anyone bought would do.
        (Mode::VerifyCa, None | Some(Roots::System)) => {
            return Err(StoreError::configuration(Refused(
                "sslmode=verify-ca checks no name, so with the system's CA certificates any \
                 certificate a public CA issued would pass: give the server's CA file \
                 (sslrootcert=PATH) or use sslmode=verify-full"
                    .into(),
            )))
        }
        (mode, _) => mode,
    };
    config.ssl_mode(match mode {
        Mode::Disable => DriverMode::Disable,
        Mode::Prefer => DriverMode::Prefer,
        Mode::Require | Mode::VerifyCa | Mode::VerifyFull => DriverMode::Require,
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(StoreError::configuration)?;
    let algorithms = provider.signature_verification_algorithms;
    let (chain, tls_said) = match mode {
        Mode::Disable | Mode::Prefer | Mode::Require => (
            None,
            format!("sslmode={}, the certificate not checked", mode.as_str()),
        ),
        Mode::VerifyCa | Mode::VerifyFull => {
            let roots = roots.unwrap_or(Roots::System);
            let store = Arc::new(trusted(&roots)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(store, provider)
                .build()
                .map_err(StoreError::configuration)?;
            (
                Some(webpki),
                format!("sslmode={}, trusting {roots}", mode.as_str()),
            )
        }
    };
    let verifier = Verifier {
        chain,
        names: mode == Mode::VerifyFull,
        algorithms,
    };
    let client = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Connect {
        config,
        tls: MakeRustlsConnect::new(client),
        tls_said: tls_said.into(),
    })
}

/// The CA certificates of `roots`; an error names the file or the system's store.
fn trusted(roots: &Roots) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| {
                StoreError::configuration(Refused(format!(
                    "cannot read the CA file {}: {e}",
                    path.display()
                )))
            })? {
                let cert = cert.map_err(|e| {
                    StoreError::configuration(Refused(format!(
                        "the CA file {} is not PEM certificates: {e}",
                        path.display()
                    )))
                })?;
                store.add(cert).map_err(|e| {
                    StoreError::configuration(Refused(format!(
                        "the CA file {} holds a certificate rustls cannot use: {e}",
                        path.display()
                    )))
                })?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
        }
    }
    if store.is_empty() {
        return Err(StoreError::configuration(Refused(format!(
            "no CA certificate in {roots}: give the server's CA with sslrootcert=PATH in the \
             URL (or PostgresSinkBuilder::ca_file)"
        ))));
    }
    Ok(store)
}

/// The server's certificate as the mode wants it: with a `chain` (`verify-ca`,
/// `verify-full`), signed by a trusted root (webpki), and naming the host for `verify-full`;
/// without (`prefer`, `require`), any certificate: encryption against a passive listener,
/// not against someone in the middle. The handshake's signatures are checked against the
/// certificate either way.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    names: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            // webpki checks the name after the chain: this error means the chain is good.
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.names => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS handshake with the server that failed (a refused certificate, a server that
/// does not speak TLS where it is required): the driver's error as its source, with the
/// `sslmode` and the roots trusted, so the message says what to change.
#[derive(Debug)]
pub(super) struct Handshake {
    pub(super) tls_said: Arc<str>,
    pub(super) cause: tokio_postgres::Error,
}

impl fmt::Display for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS with the server failed ({})", self.tls_said)
    }
}

impl std::error::Error for Handshake {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// Whether `e` failed in the TLS layer (rustls's error under it).
pub(super) fn is_tls(e: &tokio_postgres::Error) -> bool {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.get_ref().is_some_and(|inner| inner.is::<TlsError>()) {
                return true;
            }
        }
        if c.is::<TlsError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The TLS parameters of a connection string, taken out of it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Params {
    mode: Option<String>,
    root_cert: Option<String>,
}

impl Params {
    /// Takes `key`'s `value` when it is one of ours.
    fn take(&mut self, key: &str, value: String) -> bool {
        match key {
            "sslmode" => self.mode = Some(value),
            "sslrootcert" => self.root_cert = Some(value),
            _ => return false,
        }
        true
    }
}

/// `url` without `sslmode` and `sslrootcert`, and their values: a `postgres://` URL's
/// query pairs (percent-decoded), or a key/value string's pairs (quoted or not, as libpq
/// writes them). Text that is neither is returned whole, for tokio-postgres to refuse.
fn split(url: &str) -> (String, Params) {
    let mut params = Params::default();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((head, query)) = url.split_once('?') else {
            return (url.to_owned(), params);
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                !params.take(&decode(k), decode(v))
            })
            .collect();
        let rest = if kept.is_empty() {
            head.to_owned()
        } else {
            format!("{head}?{}", kept.join("&"))
        };
        return (rest, params);
    }
    let mut rest = String::with_capacity(url.len());
    let mut at = 0;
    for (start, end, key, value) in key_values(url) {
        if params.take(&key, value) {
            rest.push_str(&url[at..start]);
            at = end;
        }
    }
    rest.push_str(&url[at..]);
    (rest, params)
}

/// Percent-decoding, as tokio-postgres reads a URL's query (`+` stays `+`).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pairs of a `key=value key='quoted value'` string: each pair's byte span, its key and
/// its unescaped value. Stops at the first thing that is not a pair.
fn key_values(text: &str) -> Vec<(usize, usize, String, String)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip(i);
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if i == start {
            return out;
        }
        let key = text[start..i].to_owned();
        i = skip(i);
        if b.get(i) != Some(&b'=') {
            return out;
        }
        i = skip(i + 1);
        let quoted = b.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        let mut value = Vec::new();
        loop {
            match b.get(i) {
                None if quoted => return out, // unterminated: tokio-postgres says so
                None => break,
                Some(b'\'') if quoted => {
                    i += 1;
                    break;
                }
                Some(c) if !quoted && c.is_ascii_whitespace() => break,
                Some(b'\\') if i + 1 < b.len() => {
                    value.push(b[i + 1]);
                    i += 2;
                }
                Some(&c) => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        out.push((start, i, key, String::from_utf8_lossy(&value).into_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_both_forms() {
        let (rest, p) = split(
            "postgres://u@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        );
        assert_eq!(rest, "postgres://u@h:5432/db?application_name=x");
        assert_eq!(p.mode.as_deref(), Some("verify-full"));
        assert_eq!(p.root_cert.as_deref(), Some("/etc/ca.pem"));
        let (rest, p) = split("postgresql://u@h/db?sslmode=require");
        assert_eq!(
            (rest.as_str(), p.mode.as_deref()),
            ("postgresql://u@h/db", Some("require"))
        );
        let (rest, p) = split("host=h sslmode = 'verify-ca' user=u sslrootcert='/a b/c\\'s.pem'");
        assert_eq!(rest, "host=h  user=u ");
        assert_eq!(p.mode.as_deref(), Some("verify-ca"));
        assert_eq!(p.root_cert.as_deref(), Some("/a b/c's.pem"));
        assert_eq!(split("host=h user=u").1, Params::default());
    }

    #[test]
    fn modes_passwords_and_files_are_checked_before_connecting() {
        let c = read("postgres://u@h/db", None, None).unwrap();
        assert_eq!(c.config.get_ssl_mode(), DriverMode::Prefer);
        let c = read("postgres://u@h/db?sslmode=disable", Some("pw"), None).unwrap();
        assert_eq!(c.config.get_ssl_mode(), DriverMode::Disable);
        assert_eq!(c.config.get_password(), Some(&b"pw"[..]));
        let twice = read("postgres://u:a@h/db", Some("b"), None).err().unwrap();
        assert!(
            twice.to_string().contains("already has a password"),
            "{twice}"
        );
        let bad = read("postgres://u@h/db?sslmode=allow", None, None)
            .err()
            .unwrap();
        assert!(bad.to_string().contains("sslmode=allow"), "{bad}");
        let missing = read(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/no/such/ca.pem",
            None,
            None,
        )
        .err()
        .unwrap();
        assert!(matches!(missing, StoreError::Configuration(_)));
        assert!(missing.to_string().contains("/no/such/ca.pem"), "{missing}");
        let weak = read("postgres://u@h/db?sslmode=verify-ca", None, None)
            .err()
            .unwrap();
        assert!(weak.to_string().contains("verify-full"), "{weak}");
        let not = read("mysql://x", None, None).err().unwrap();
        assert!(not.to_string().contains("postgres://"), "{not}");
    }
}

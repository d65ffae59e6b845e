//! The MQTT link to a broker, plaintext or TLS, shared by the service's receiver (`[mqtt]`
//! in the service configuration) and the edge gateway's forwarder (`[broker]` in
//! `gateway.toml`): one implementation, two places.
//!
//! `mqtts://HOST:PORT` (default port 8883; `ssl://` is taken too) selects TLS,
//! `mqtt://HOST:PORT` (default 1883; `tcp://` too) stays plaintext. With TLS the broker's
//! certificate is checked against the PEM bundle of `ca_file`, or against the operating
//! system's trust store when `ca_file` is empty; `client_cert_file` + `client_key_file`
//! add a client certificate for brokers that require one (mutual TLS).
//!
//! rustls runs on the ring provider (already built for reqwest); rumqttc's
//! `use-rustls-no-provider` feature keeps the slow aws-lc build out. The system trust
//! store is read with rustls-native-certs (honours `update-ca-certificates`, `SSL_CERT_FILE`
//! and `SSL_CERT_DIR`), which rumqttc's TLS feature builds anyway.
//!
//! URL and PEM parsing are pure functions; only [`Link::open`] reads files, once, at
//! start-up, so a missing or bad file stops start-up instead of failing every reconnect.

use std::sync::Arc;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// Where a broker URL points and whether it asks for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerUrl {
    /// Parses `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`; None for anything else.
    pub fn parse(url: &str) -> Option<BrokerUrl> {
        let (rest, tls) = if let Some(r) = url.strip_prefix("mqtts://") {
            (r, true)
        } else if let Some(r) = url.strip_prefix("ssl://") {
            (r, true)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (r, false)
        } else {
            (url.strip_prefix("tcp://")?, false)
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (rest, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() || host.contains(['/', '@']) {
            return None;
        }
        Some(BrokerUrl {
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

/// The TLS keys of one configuration section, as written (empty = not set). Relative
/// paths are taken from the working directory, like the other paths in the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsFiles<'a> {
    pub ca_file: &'a str,
    pub client_cert_file: &'a str,
    pub client_key_file: &'a str,
}

/// The key a problem is about; the caller adds its section (`mqtt.` or `broker.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsKey {
    Url,
    CaFile,
    ClientCertFile,
    ClientKeyFile,
}

impl TlsKey {
    pub fn name(self) -> &'static str {
        match self {
            TlsKey::Url => "url",
            TlsKey::CaFile => "ca_file",
            TlsKey::ClientCertFile => "client_cert_file",
            TlsKey::ClientKeyFile => "client_key_file",
        }
    }
}

/// A TLS setting that cannot work: which key, and what is wrong (with the file's path).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TlsError {
    pub key: TlsKey,
    pub message: String,
}

fn problem(key: TlsKey, message: impl Into<String>) -> TlsError {
    TlsError {
        key,
        message: message.into(),
    }
}

impl TlsFiles<'_> {
    /// Checks, without reading anything, that the keys fit together and with the URL.
    pub fn check(&self, tls: bool) -> Result<(), TlsError> {
        if !tls {
            for (key, value) in self.keys() {
                if !value.is_empty() {
                    return Err(problem(
                        key,
                        format!(
                            "{value:?} is set, but the broker URL is not mqtts:// (plaintext); use mqtts://HOST:PORT for TLS"
                        ),
                    ));
                }
            }
            return Ok(());
        }
        match (
            self.client_cert_file.is_empty(),
            self.client_key_file.is_empty(),
        ) {
            (false, true) => Err(problem(
                TlsKey::ClientKeyFile,
                "missing: client_cert_file is set, and mutual TLS needs its private key too",
            )),
            (true, false) => Err(problem(
                TlsKey::ClientCertFile,
                "missing: client_key_file is set, and mutual TLS needs the certificate too",
            )),
            _ => Ok(()),
        }
    }

    fn keys(&self) -> [(TlsKey, &str); 3] {
        [
            (TlsKey::CaFile, self.ca_file),
            (TlsKey::ClientCertFile, self.client_cert_file),
            (TlsKey::ClientKeyFile, self.client_key_file),
        ]
    }
}

/// The trust anchors of a PEM bundle: every certificate in it must be usable.
pub fn parse_roots(pem: &[u8], path: &str) -> Result<RootCertStore, String> {
    let certs = parse_certificates(pem, path)?;
    let mut roots = RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|e| {
            format!(
                "{path}: certificate {} is not a usable CA certificate: {e}",
                i + 1
            )
        })?;
    }
    Ok(roots)
}

/// The certificates of a PEM file, in order (a client certificate, then its chain).
pub fn parse_certificates(pem: &[u8], path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path}: not a valid PEM file: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{path}: no certificate in it (expected PEM blocks \"-----BEGIN CERTIFICATE-----\")"
        ));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1/RSA or SEC1/EC).
pub fn parse_private_key(pem: &[u8], path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "{path}: no private key in it (expected a PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block, unencrypted)"
        ),
        e => format!("{path}: not a valid PEM private key: {e}"),
    })
}

/// A client configuration on the ring provider trusting `roots`, with a client
/// certificate (chain and key) for mutual TLS when given.
pub fn client_config(
    roots: RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<ClientConfig, rustls::Error> {
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
    match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// A broker to connect to, with its TLS configuration when the URL asks for TLS.
#[derive(Debug, Clone)]
pub struct Link {
    pub host: String,
    pub port: u16,
    pub tls: Option<Arc<ClientConfig>>,
}

impl Link {
    /// Checks `url` and which files `files` names for it, reading none of them: what every
    /// command can check, where only the service and the gateway need the files.
    pub fn check(url: &str, files: TlsFiles<'_>) -> Result<(), TlsError> {
        Self::parse(url, files).map(drop)
    }

    fn parse(url: &str, files: TlsFiles<'_>) -> Result<BrokerUrl, TlsError> {
        let parsed = BrokerUrl::parse(url).ok_or_else(|| {
            problem(
                TlsKey::Url,
                format!("{url:?} is not mqtt://HOST:PORT or mqtts://HOST:PORT"),
            )
        })?;
        files.check(parsed.tls)?;
        Ok(parsed)
    }

    /// Parses `url` and, for `mqtts://`, reads and checks the files of `files`.
    pub fn open(url: &str, files: TlsFiles<'_>) -> Result<Link, TlsError> {
        let parsed = Self::parse(url, files)?;
        let tls = if parsed.tls {
            Some(Arc::new(load_client_config(files)?))
        } else {
            None
        };
        Ok(Link {
            host: parsed.host,
            port: parsed.port,
            tls,
        })
    }

    /// Options for a client `client_id` on this link (TLS transport when configured).
    pub fn options(&self, client_id: &str) -> MqttOptions {
        let mut options = MqttOptions::new(client_id, &self.host, self.port);
        if let Some(tls) = &self.tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                tls.clone(),
            )));
        }
        options
    }
}

impl std::fmt::Display for Link {
    /// `mqtts://HOST:PORT` or `mqtt://HOST:PORT`, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// Reads the files and builds the client configuration (the I/O half of [`Link::open`]).
fn load_client_config(files: TlsFiles<'_>) -> Result<ClientConfig, TlsError> {
    let roots = if files.ca_file.is_empty() {
        system_roots()?
    } else {
        let pem = read(TlsKey::CaFile, files.ca_file)?;
        parse_roots(&pem, files.ca_file).map_err(|m| problem(TlsKey::CaFile, m))?
    };
    let identity = if files.client_cert_file.is_empty() {
        None
    } else {
        let path = files.client_cert_file;
        let chain = parse_certificates(&read(TlsKey::ClientCertFile, path)?, path)
            .map_err(|m| problem(TlsKey::ClientCertFile, m))?;
        let path = files.client_key_file;
        let key = parse_private_key(&read(TlsKey::ClientKeyFile, path)?, path)
            .map_err(|m| problem(TlsKey::ClientKeyFile, m))?;
        Some((chain, key))
    };
    let mutual = identity.is_some();
    client_config(roots, identity).map_err(|e| {
        if mutual {
            problem(
                TlsKey::ClientKeyFile,
                format!(
                    "{}: cannot be used with the certificate of {}: {e}",
                    files.client_key_file, files.client_cert_file
                ),
            )
        } else {
            problem(TlsKey::CaFile, format!("cannot set up TLS: {e}"))
        }
    })
}

fn read(key: TlsKey, path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| problem(key, format!("cannot read {path}: {e}")))
}

/// The operating system's trust store; an empty one is an error naming `ca_file`.
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(problem(
            TlsKey::CaFile,
            format!(
                "empty, and no CA certificate was found in the system trust store{why}; set ca_file to the PEM file of the CA that signed the broker's certificate, or install the ca-certificates package"
            ),
        ));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_A_CERT: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    #[test]
    fn mqtts_selects_tls_and_defaults_to_port_8883() {
        let url = BrokerUrl::parse("mqtts://broker.example.cn").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.tls),
            ("broker.example.cn", 8883, true)
        );
        let url = BrokerUrl::parse("mqtts://10.0.0.5:18883/").unwrap();
        assert_eq!((url.port, url.tls), (18883, true));
        let url = BrokerUrl::parse("mqtt://10.0.0.5").unwrap();
        assert_eq!((url.port, url.tls), (1883, false));
        assert!(BrokerUrl::parse("ssl://h:1").unwrap().tls);
        assert!(!BrokerUrl::parse("tcp://h:1").unwrap().tls);
    }

    #[test]
    fn a_url_without_scheme_host_or_numeric_port_is_refused() {
        for bad in [
            "broker:1883",
            "https://h:1",
            "mqtts://",
            "mqtt://h:port",
            "mqtts://:8883",
        ] {
            assert_eq!(BrokerUrl::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn tls_files_with_a_plaintext_url_are_refused_naming_the_key() {
        let files = TlsFiles {
            ca_file: "/etc/pvledger/ca.pem",
            ..Default::default()
        };
        let e = files.check(false).unwrap_err();
        assert_eq!(e.key, TlsKey::CaFile);
        assert!(
            e.message.contains("/etc/pvledger/ca.pem") && e.message.contains("mqtts://"),
            "{e}"
        );
        assert!(files.check(true).is_ok());
        assert!(TlsFiles::default().check(false).is_ok());
    }

    #[test]
    fn half_a_client_identity_names_the_missing_key() {
        let cert_only = TlsFiles {
            client_cert_file: "gw.pem",
            ..Default::default()
        };
        assert_eq!(
            cert_only.check(true).unwrap_err().key,
            TlsKey::ClientKeyFile
        );
        let key_only = TlsFiles {
            client_key_file: "gw.key",
            ..Default::default()
        };
        assert_eq!(
            key_only.check(true).unwrap_err().key,
            TlsKey::ClientCertFile
        );
    }

    #[test]
    fn a_ca_file_without_certificates_says_what_it_expected_and_names_the_path() {
        let e = parse_roots(b"just text\n", "/etc/ca.pem").unwrap_err();
        assert!(e.starts_with("/etc/ca.pem: no certificate"), "{e}");
        assert!(e.contains("BEGIN CERTIFICATE"), "{e}");
        let e = parse_roots(b"-----BEGIN CERTIFICATE-----\nAAAA\n", "/etc/ca.pem").unwrap_err();
        assert!(e.starts_with("/etc/ca.pem: not a valid PEM file"), "{e}");
    }

    #[test]
    fn a_garbled_certificate_in_a_ca_bundle_is_named_by_position() {
        let e = parse_roots(NOT_A_CERT.as_bytes(), "ca.pem").unwrap_err();
        assert!(
            e.starts_with("ca.pem: certificate 1 is not a usable CA certificate"),
            "{e}"
        );
    }

    #[test]
    fn a_key_file_without_a_key_says_which_formats_are_taken() {
        let e = parse_private_key(NOT_A_CERT.as_bytes(), "gw.key").unwrap_err();
        assert!(e.starts_with("gw.key: no private key"), "{e}");
        assert!(e.contains("RSA PRIVATE KEY"), "{e}");
    }

    #[test]
    fn a_missing_file_names_its_key_and_path() {
        let e = Link::open(
            "mqtts://127.0.0.1:8883",
            TlsFiles {
                ca_file: "/nonexistent/pvledger-ca.pem",
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.key, TlsKey::CaFile);
        assert!(
            e.message
                .starts_with("cannot read /nonexistent/pvledger-ca.pem"),
            "{e}"
        );
    }

    #[test]
    fn a_plaintext_link_needs_no_files() {
        let link = Link::open("mqtt://127.0.0.1:1883", TlsFiles::default()).unwrap();
        assert!(link.tls.is_none());
        assert_eq!(link.to_string(), "mqtt://127.0.0.1:1883");
        let e = Link::open("http://x", TlsFiles::default()).unwrap_err();
        assert_eq!(e.key, TlsKey::Url);
    }
}

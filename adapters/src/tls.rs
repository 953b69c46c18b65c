//! Optional TLS on the listeners (`[tls]` in the configuration file): the certificate and key,
//! loaded and checked when the configuration loads, and the streams that carry TLS
//! ([`stream`]). Plain TCP stays the default; a listener speaks TLS only when its switch is on.
//!
//! The cryptography is rustls with the `ring` provider, chosen explicitly (not the process-wide
//! default) so nothing depends on which provider another crate turned on.
//!
//! ```
//! use hayate_adapters::tls::TlsConfig;
//!
//! // No [tls] section: every listener is plain TCP.
//! let tls = TlsConfig::default();
//! assert!(tls.fix_server().is_none() && tls.ws_server().is_none());
//! ```

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

pub mod stream;

pub use stream::{MaybeTls, TlsStream};

/// The TLS library, so clients name its types (`ClientConfig`) without a second dependency.
pub use rustls;

/// `[tls]`: the certificate the TLS listeners present, and which listeners use it.
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// The certificate chain (PEM), the server's own certificate first.
    pub cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// TLS on the FIX port (`fix = true`).
    pub fix: bool,
    /// TLS on the binary port (`binary = true`), which the admin client uses too.
    pub binary: bool,
    /// HTTPS on `http_listen` (`http = true`).
    pub http: bool,
    /// WSS on the market-data feed (`ws = true`).
    pub ws: bool,
    /// TLS on the replication link (`replication = true`): see [`PairTls`].
    pub replication: bool,
    /// The loaded certificate and key, when `cert_file` and `key_file` are given.
    pub(crate) server: Option<Arc<ServerConfig>>,
}

impl TlsConfig {
    /// A configuration with the certificate already loaded (from [`load_server_config`]).
    pub fn with_server(mut self, server: Arc<ServerConfig>) -> TlsConfig {
        self.server = Some(server);
        self
    }

    fn when(&self, on: bool) -> Option<Arc<ServerConfig>> {
        self.server.as_ref().filter(|_| on).map(Arc::clone)
    }

    /// What the FIX port serves TLS with; `None`: plain TCP.
    pub fn fix_server(&self) -> Option<Arc<ServerConfig>> {
        self.when(self.fix)
    }

    /// What the binary port serves TLS with; `None`: plain TCP.
    pub fn binary_server(&self) -> Option<Arc<ServerConfig>> {
        self.when(self.binary)
    }

    /// What the HTTP listener serves HTTPS with; `None`: plain HTTP.
    pub fn http_server(&self) -> Option<Arc<ServerConfig>> {
        self.when(self.http)
    }

    /// What the WebSocket feed serves WSS with; `None`: plain WebSocket.
    pub fn ws_server(&self) -> Option<Arc<ServerConfig>> {
        self.when(self.ws)
    }
}

/// TLS on the replication link (`[tls] replication = true`): both nodes of a pair set it, since
/// either may be the primary. As primary a node presents `[tls]`'s certificate to its standby;
/// as standby (or when a promoted node tells its old primary of the new epoch) it accepts only a
/// peer certificate issued by `ca_file` for `peer_name` (default: the peer's IP address). TLS
/// keeps the journal private on the wire; the pair's secret still proves who the peer is.
#[derive(Clone, Debug)]
pub struct PairTls {
    server: Arc<ServerConfig>,
    dialer: TlsDialer,
}

impl PairTls {
    /// From this node's certificate (as [`load_server_config`] loads it), the roots its peer's
    /// certificate must chain to (as [`client_config`] loads them) and the name that
    /// certificate must carry (`None`: the IP address the node connects to).
    pub fn new(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
        peer_name: Option<ServerName<'static>>,
    ) -> PairTls {
        PairTls {
            server,
            dialer: TlsDialer::new(client, peer_name),
        }
    }

    /// What the primary serves its standby with.
    pub fn server(&self) -> &Arc<ServerConfig> {
        &self.server
    }

    /// How this node connects to its peer.
    pub fn dialer(&self) -> &TlsDialer {
        &self.dialer
    }
}

/// The client side of a TLS connection to a replication port: the roots the server's
/// certificate must chain to and the name it must carry. A node of a pair has one inside its
/// [`PairTls`]; an observer (a bridge), which serves nothing, has only this.
#[derive(Clone, Debug)]
pub struct TlsDialer {
    client: Arc<ClientConfig>,
    peer_name: Option<ServerName<'static>>,
}

impl TlsDialer {
    /// Trusting `client`'s roots for a certificate naming `peer_name` (`None`: the IP address
    /// connected to).
    pub fn new(client: Arc<ClientConfig>, peer_name: Option<ServerName<'static>>) -> TlsDialer {
        TlsDialer { client, peer_name }
    }

    /// Connects to the peer at `addr` and completes the TLS handshake within `timeout`; a
    /// certificate the peer cannot prove fails with `InvalidData`.
    pub fn connect(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TlsStream<TcpStream>> {
        let name = self
            .peer_name
            .clone()
            .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()));
        let sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        TlsStream::connect_to(sock, &self.client, name)
    }
}

/// Two pair configurations are equal when they share their loaded certificates and name (they
/// are loaded once, when the configuration is).
impl PartialEq for PairTls {
    fn eq(&self, other: &PairTls) -> bool {
        Arc::ptr_eq(&self.server, &other.server) && self.dialer == other.dialer
    }
}

impl Eq for PairTls {}

/// Two dialers are equal when they share their loaded roots and name.
impl PartialEq for TlsDialer {
    fn eq(&self, other: &TlsDialer) -> bool {
        Arc::ptr_eq(&self.client, &other.client) && self.peer_name == other.peer_name
    }
}

impl Eq for TlsDialer {}

/// `peer_name` as a name a certificate can carry (a DNS name or an IP address).
pub fn peer_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_owned())
        .map_err(|e| format!("{name:?} is neither a DNS name nor an IP address ({e})"))
}

/// A certificate or key file that cannot be used: which key of `[tls]` named it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFileError {
    /// `cert_file` or `key_file`.
    pub key: &'static str,
    /// What is wrong, naming the file.
    pub message: String,
}

/// The provider every TLS configuration here uses. rustls 0.23.48 deprecates ring's provider
/// for lacking post-quantum key exchange; the alternative (aws-lc-rs) needs a C/CMake toolchain
/// this project does not take on, and the classical suites are what TLS 1.2/1.3 clients speak.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|e| TlsFileError {
        key,
        message: format!("cannot read {}: {e}", path.display()),
    })
}

/// The certificates in a PEM file; an error names the file (as `key`) when it holds none.
fn certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsFileError {
            key,
            message: format!("{}: not a valid PEM file: {e}", path.display()),
        })?;
    if certs.is_empty() {
        return Err(TlsFileError {
            key,
            message: format!(
                "{}: no certificate in it (expected a PEM block \"-----BEGIN CERTIFICATE-----\")",
                path.display()
            ),
        });
    }
    Ok(certs)
}

/// Loads and checks a certificate chain and its private key (both PEM) into the configuration
/// the TLS listeners share: a file that cannot be read or parsed, a key of an unsupported kind
/// or one that does not belong to the certificate is an error naming the file.
pub fn load_server_config(
    cert_file: &Path,
    key_file: &Path,
) -> Result<Arc<ServerConfig>, TlsFileError> {
    let certs = certificates("cert_file", cert_file)?;
    let key_pem = read("key_file", key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsFileError {
        key: "key_file",
        message: format!(
            "{}: no usable private key in it ({e}; expected a PEM block \"-----BEGIN PRIVATE KEY-----\")",
            key_file.display()
        ),
    })?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFileError {
            key: "cert_file",
            message: format!("no TLS protocol version available: {e}"),
        })?;
    let config = builder
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InvalidCertificate(_) => TlsFileError {
                key: "cert_file",
                message: format!("{}: {e}", cert_file.display()),
            },
            e => TlsFileError {
                key: "key_file",
                message: format!(
                    "{}: {e} (the key must be the private key of {})",
                    key_file.display(),
                    cert_file.display()
                ),
            },
        })?;
    Ok(Arc::new(config))
}

/// A client configuration that trusts the certificates in `ca_file` (PEM): the issuing CA's,
/// or a self-signed server certificate itself. For the admin client, the load generator and
/// tests.
pub fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, String> {
    let certs = certificates("ca_file", ca_file).map_err(|e| e.message)?;
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", ca_file.display()))?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

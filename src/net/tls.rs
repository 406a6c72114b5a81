//! TLS for every engine: rustls with the ring provider (the only one compiled
//! in), configs from PEM files, and upgrades of an existing [`Stream`] so that
//! both TLS-from-the-start and in-band STARTTLS (pool TCP op 30, AMP's StartTLS)
//! use the same code.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use crate::net::transport::Stream;

/// How long a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors building TLS configurations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Config(#[from] rustls::Error),
    /// Client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

/// The crypto provider every config uses: ring, chosen explicitly so that no
/// process-wide default is needed.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem_err = |what: String| Error::Pem {
        path: path.to_path_buf(),
        what,
    };
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err("no certificate found".into()));
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| Error::Pem {
        path: path.to_path_buf(),
        what: e.to_string(),
    })
}

/// A root store holding the certificates of a PEM file.
pub fn load_roots(path: &Path) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| Error::Pem {
            path: path.to_path_buf(),
            what: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// A server config from a certificate chain and key in PEM files; with
/// `client_ca`, clients must present a certificate signed by it (mutual TLS).
pub fn server_config(
    cert_pem: &Path,
    key_pem: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, Error> {
    let roots = client_ca.map(load_roots).transpose()?;
    server_config_from_der(load_certs(cert_pem)?, load_key(key_pem)?, roots)
}

/// A server config from DER certificates and key (tests generate these).
pub fn server_config_from_der(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<RootCertStore>,
) -> Result<Arc<ServerConfig>, Error> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = match client_roots {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| Error::Verifier(e.to_string()))?;
            builder
                .with_client_cert_verifier(verifier)
                .with_single_cert(chain, key)?
        }
        None => builder.with_no_client_auth().with_single_cert(chain, key)?,
    };
    Ok(Arc::new(config))
}

/// Which certificates a client trusts.
#[derive(Clone, Debug, Default)]
pub enum Trust {
    /// The system's roots (rustls-native-certs), falling back to the Mozilla
    /// roots of webpki-roots when the system has none.
    #[default]
    System,
    /// Only the certificates of this PEM file (`--ca`).
    CaFile(PathBuf),
    /// Accept any certificate. Only for `tcpo://`-style opportunistic TLS where
    /// the operator asked for encryption without authentication.
    Insecure,
}

/// A client config with the given trust and an optional client certificate.
pub fn client_config(
    trust: &Trust,
    client_cert: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, Error> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match trust {
        Trust::System => builder.with_root_certificates(system_roots()),
        Trust::CaFile(path) => builder.with_root_certificates(load_roots(path)?),
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider()))),
    };
    let config = match client_cert {
        Some((cert, key)) => builder.with_client_auth_cert(load_certs(cert)?, load_key(key)?)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A client config trusting exactly `roots` (tests pass a generated CA).
pub fn client_config_from_roots(roots: RootCertStore) -> Result<Arc<ClientConfig>, Error> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots
}

/// Runs the server side of a TLS handshake on `stream` (from the start, or after
/// an in-band STARTTLS reply has been flushed).
pub async fn accept(stream: Stream, config: Arc<ServerConfig>) -> io::Result<Stream> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "tls handshake timed out"))??;
    Ok(Box::new(tls))
}

/// Runs the client side of a TLS handshake on `stream`, verifying the server's
/// certificate against `server_name`.
pub async fn connect(
    stream: Stream,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> io::Result<Stream> {
    let name = ServerName::try_from(server_name.to_string()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("server name {server_name:?}: {e}"),
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "tls handshake timed out"))??;
    Ok(Box::new(tls))
}

/// Verifier for [`Trust::Insecure`]: checks signatures, not the chain.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::transport::memory_pair;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn generated_server() -> (Arc<ServerConfig>, RootCertStore) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let server = server_config_from_der(
            vec![cert.der().clone()],
            PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            None,
        )
        .unwrap();
        (server, roots)
    }

    #[tokio::test]
    async fn upgrade_carries_bytes_and_verifies_the_name() {
        let (server_cfg, roots) = generated_server();
        let client_cfg = client_config_from_roots(roots).unwrap();
        let (a, b) = memory_pair(64 * 1024);
        let server = tokio::spawn(async move {
            let mut s = accept(b, server_cfg).await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.flush().await.unwrap();
        });
        let mut c = connect(a, "localhost", client_cfg).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn wrong_name_is_refused() {
        let (server_cfg, roots) = generated_server();
        let client_cfg = client_config_from_roots(roots).unwrap();
        let (a, b) = memory_pair(64 * 1024);
        tokio::spawn(async move {
            let _ = accept(b, server_cfg).await;
        });
        assert!(connect(a, "not-localhost.example", client_cfg)
            .await
            .is_err());
    }

    #[test]
    fn missing_pem_names_the_file() {
        let err = load_certs(Path::new("/nonexistent/cert.pem")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }
}

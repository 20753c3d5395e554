//! TLS to PostgreSQL against a real server started with `ssl=on` and a
//! certificate made here: `verify-full` with the right CA connects over TLS,
//! a wrong CA is refused naming the database without its password, the
//! loopback default is plaintext, and plaintext to a remote host is refused
//! at the configuration check.

#[path = "common/postgres.rs"]
mod postgres_server;

use postgres_server::PgServer;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use veil_store::db::{pg_tls, Db};

/// A CA: its PEM certificate, and what signs with it.
fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).unwrap(), key)
}

fn uses_tls(client: &mut postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn verify_full_connects_over_tls_and_a_wrong_ca_is_refused() {
    let (ca_cert, ca_key) = ca("Veil test database CA");
    let server_key = KeyPair::generate().unwrap();
    let server_cert =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca_cert, &ca_key)
            .unwrap();
    let pg = PgServer::start_tls(&server_cert.pem(), &server_key.serialize_pem());
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let (other_ca, _) = ca("Some other CA");
    let wrong_file = dir.path().join("wrong.pem");
    std::fs::write(&wrong_file, other_ca.pem()).unwrap();

    // The right CA, host name checked (by IP address and by name).
    for host in ["127.0.0.1", "localhost"] {
        let url = format!(
            "postgres://veil@{host}:{}/postgres?sslmode=verify-full&sslrootcert={}",
            pg.port(),
            ca_file.display()
        );
        let mut client = pg_tls::connect(&url).unwrap();
        assert!(uses_tls(&mut client), "{host}: not over TLS");
    }
    // The server's whole path (a test database, migrations) over TLS.
    let tls_url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        pg.url(),
        ca_file.display()
    );
    let db = Db::open_postgres(&Db::create_test_database(&tls_url).unwrap()).unwrap();
    assert!(db.is_postgres());

    // A wrong CA: refused, naming the address, never the password.
    let url = format!(
        "postgres://veil:hunter2@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port(),
        wrong_file.display()
    );
    let e = pg_tls::connect(&url).err().unwrap().to_string();
    assert!(e.contains(&format!("127.0.0.1:{}", pg.port())), "{e}");
    assert!(
        e.to_lowercase().contains("certificate") || e.contains("Issuer"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
    let e = Db::open_postgres(&url).err().unwrap().to_string();
    assert!(
        !e.contains("hunter2") && e.contains("cannot connect"),
        "{e}"
    );

    // Without sslmode, loopback stays plaintext (what the tests use).
    let mut plain = pg_tls::connect(&pg.url()).unwrap();
    assert!(!uses_tls(&mut plain));
}

#[test]
fn plaintext_to_a_remote_host_is_refused_at_the_configuration_check() {
    let e = veil_store::migrate::check_postgres_url(
        "postgres://veil:hunter2@db.example.org:5432/veil?sslmode=disable",
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("sslmode=disable") && e.contains("loopback"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
    assert!(veil_store::migrate::check_postgres_url(
        "postgres://veil@127.0.0.1:5432/veil?sslmode=disable"
    )
    .is_ok());
    assert!(veil_store::migrate::check_postgres_url(
        "postgres://veil@db.example.org:5432/veil?sslmode=verify-full"
    )
    .is_ok());
}

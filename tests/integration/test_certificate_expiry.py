"""osops.toolkit.certificate_expiry on real PEM files: a chain whose intermediate expires first, a
bundle of several certificates, and files that are not PEM certificates. One playbook run checks
every file (a task each); the test reads each task's result."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)


def issue(subject, days, issuer=None, ca=False):
    """(certificate, key): signed by ``issuer`` = (certificate, key), or self-signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_cert, issuer_key = issuer or (None, key)
    cert = (x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer_cert.subject if issuer_cert else name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=days, hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))
    return cert, key


def pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def test_chains_bundles_and_files_that_are_not_pem(ansible, tmp_path):
    root = issue("osops test root CA", 3650, ca=True)
    intermediate = issue("osops test intermediate CA", 5, issuer=root, ca=True)
    server = issue("api.osops.test", 200, issuer=intermediate)
    files = {
        "bundle": pem(server[0], intermediate[0], root[0]),
        "server": pem(server[0]),
        "text": b"just some text, no certificate\n",
        "bad_pem": b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        "der": server[0].public_bytes(serialization.Encoding.DER),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    checks = [("bundle", {}), ("bundle", {"fail_days": 3, "warn_days": 30}),
              ("server", {"fail_days": 3, "warn_days": 30}), ("text", {}), ("bad_pem", {}), ("der", {})]
    run = ansible(tasks=[{"name": "check %s" % name, "ignore_errors": True,
                          "osops.toolkit.certificate_expiry": dict(path=str(tmp_path / name), **args)}
                         for name, args in checks])
    chain, chain_warn, alone, text, bad_pem, der = [run.task(index) for index in range(len(checks))]

    # the intermediate, which expires first, fails the bundle at the default 7-day limit
    assert chain["failed"] is True and chain["status"] == "fail"
    assert [(c["subject"], c["days_left"]) for c in chain["certificates"]] == [
        ("CN=api.osops.test", 200), ("CN=osops test intermediate CA", 5), ("CN=osops test root CA", 3650)]
    assert chain["days_left"] == 5
    assert "(CN=osops test intermediate CA) expires" in chain["msg"] and "7-day limit" in chain["msg"]
    # under a lower limit it warns, naming the intermediate; the server certificate alone is fine
    assert chain_warn.get("failed") is not True and chain_warn["status"] == "warn"
    assert len(chain_warn["warnings"]) == 1 and "CN=osops test intermediate CA" in chain_warn["warnings"][0]
    assert (alone["status"], alone["days_left"], alone.get("warnings")) == ("ok", 200, None)
    # files that hold no readable PEM certificate fail with the reason, never a traceback
    for result, name, reason in ((text, "text", "holds no PEM certificate"),
                                 (der, "der", "holds no PEM certificate"),
                                 (bad_pem, "bad_pem", "holds a certificate that cannot be read")):
        assert result["failed"] is True and result["status"] == "fail", name
        assert result["msg"].startswith(str(tmp_path / name)) and reason in result["msg"], result["msg"]
        assert "module_stderr" not in result, name

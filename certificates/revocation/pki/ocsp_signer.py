"""A prepared OCSP signer per responder: the parts of a basic response that never change for one responder
certificate (responderID, signature algorithm, the certificate itself) are taken once from a response
cryptography built; each answer is then a few DER concatenations and one signature.

`build_response` (cryptography's builder) costs more than the signature it makes; the bytes this module writes
are checked against the builder's, field for field, in tests/certificates/revocation/test_ocsp_fast_path.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from certctl.kernel.x509 import signature_hash
from certificates.enums import REVOCATION_REASON_CODES
from certificates.revocation.pki.der import children, generalized_time, integer, read, tlv
from certificates.revocation.pki.ocsp import HASH_ALGORITHMS, Answer, ParsedRequest, build_response

# AlgorithmIdentifier of each CertID hash, as cryptography writes it (parameters NULL).
_HASH_OIDS = {
    "sha1": "2b0e03021a",
    "sha224": "608648016503040204",
    "sha256": "608648016503040201",
    "sha384": "608648016503040202",
    "sha512": "608648016503040203",
}
_HASH_ALGORITHM_IDS = {
    name: tlv(0x30, tlv(0x06, bytes.fromhex(oid)) + b"\x05\x00") for name, oid in _HASH_OIDS.items()
}
assert set(_HASH_ALGORITHM_IDS) == set(HASH_ALGORITHMS)
_GOOD = b"\x80\x00"
_UNKNOWN = b"\x82\x00"
_NONCE_OID = tlv(0x06, bytes.fromhex("2b0601050507300102"))
_BASIC_RESPONSE_TYPE = tlv(0x06, bytes.fromhex("2b0601050507300101"))
_SUCCESSFUL = b"\x0a\x01\x00"


class PreparedSigner:
    """Signs OCSP answers for one responder certificate and key."""

    def __init__(self, responder_cert, responder_key) -> None:
        self.key = responder_key
        self.hash = signature_hash(responder_key)
        self._sign = _signer(responder_key, self.hash)
        # A response from cryptography's builder, read for the parts every answer of this responder shares.
        sample = _parse(_sample_response(responder_cert, responder_key))
        self.responder_id = sample["responder_id"]
        self.signature_algorithm = sample["signature_algorithm"]
        self.certs = sample["certs"]

    def tbs(
        self, request: ParsedRequest, answer: Answer, *, this_update: datetime, next_update: datetime
    ) -> bytes:
        """The DER ResponseData, as cryptography's builder writes it for the same input."""
        cert_id = tlv(
            0x30,
            _HASH_ALGORITHM_IDS[request.hash_algorithm]
            + tlv(0x04, request.issuer_name_hash)
            + tlv(0x04, request.issuer_key_hash)
            + integer(request.serial_number),
        )
        if answer.status == "revoked":
            code = REVOCATION_REASON_CODES.get(answer.reason or "", 0)
            status = tlv(0xA1, generalized_time(answer.revoked_at) + tlv(0xA0, bytes([0x0A, 0x01, code])))
        else:
            status = _GOOD if answer.status == "good" else _UNKNOWN
        single = tlv(
            0x30, cert_id + status + generalized_time(this_update) + tlv(0xA0, generalized_time(next_update))
        )
        extensions = b""
        if request.nonce is not None:
            nonce = tlv(0x30, _NONCE_OID + tlv(0x04, tlv(0x04, request.nonce)))
            extensions = tlv(0xA1, tlv(0x30, nonce))
        return tlv(0x30, self.responder_id + generalized_time(this_update) + tlv(0x30, single) + extensions)

    def response(
        self, request: ParsedRequest, answer: Answer, *, this_update: datetime, next_update: datetime
    ) -> bytes:
        """The signed DER OCSPResponse (successful, basic) for one request."""
        tbs = self.tbs(request, answer, this_update=this_update, next_update=next_update)
        signature = tlv(0x03, b"\x00" + self._sign(tbs))
        basic = tlv(0x30, tbs + self.signature_algorithm + signature + self.certs)
        return tlv(0x30, _SUCCESSFUL + tlv(0xA0, tlv(0x30, _BASIC_RESPONSE_TYPE + tlv(0x04, basic))))


def _signer(key, algorithm):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        scheme = ec.ECDSA(algorithm)
        return lambda data: key.sign(data, scheme)
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda data: key.sign(data, padding.PKCS1v15(), algorithm)
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return key.sign
    raise TypeError(f"unsupported responder key type {type(key).__name__}")


def _sample_response(responder_cert, responder_key) -> bytes:
    moment = datetime(2026, 1, 1)
    request = ParsedRequest(1, "sha1", b"\x00" * 20, b"\x00" * 20, None)
    return build_response(
        request,
        Answer("good"),
        responder_cert=responder_cert,
        responder_key=responder_key,
        this_update=moment,
        next_update=moment + timedelta(hours=1),
    )


def _parse(der: bytes) -> dict[str, bytes]:
    """responderID, signatureAlgorithm and certs of a DER OCSPResponse built by cryptography."""
    _, body, _ = read(der, 0)
    (_, _, _), (_, bytes_start, _) = children(der, body, len(der))  # responseStatus, [0] responseBytes
    _, inner, _ = read(der, bytes_start)
    _, sequence, size = read(der, inner)
    (_, _, _), (_, octets, _) = children(der, sequence, sequence + size)  # responseType, response
    _, basic_start, basic_size = read(der, octets)
    _, basic, _ = read(der, basic_start)
    fields = children(der, basic, basic_start + basic_size)
    (_, tbs_start, tbs_end), (_, alg_start, alg_end), _, (certs_tag, certs_start, certs_end) = fields
    _, tbs, _ = read(der, tbs_start)
    tbs_fields = children(der, tbs, tbs_end)
    if (
        der[tbs_fields[0][1]] == 0xA0
    ):  # an explicit version: never written by cryptography (v1 is the default)
        raise ValueError("unexpected OCSP ResponseData version")
    assert certs_tag == 0xA0
    return {
        "responder_id": der[tbs_fields[0][1] : tbs_fields[0][2]],
        "signature_algorithm": der[alg_start:alg_end],
        "certs": der[certs_start:certs_end],
    }

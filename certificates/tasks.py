from certificates.revocation_tasks import regenerate_all_crls, regenerate_crl, rotate_ocsp_responders  # noqa: F401

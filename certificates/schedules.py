from django.conf import settings

from certctl.schedules import Periodic

PERIODIC_TASKS = [
    Periodic("crl-generation", "certificates.regenerate_all_crls", settings.CRL_INTERVAL),
    Periodic("ocsp-responder-rotation", "certificates.rotate_ocsp_responders", settings.CRL_INTERVAL),
]

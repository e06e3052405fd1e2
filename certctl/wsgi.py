import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certctl.settings")
application = get_wsgi_application()

# OCSP clients' requests skip Django's middleware (certificates/revocation/wsgi.py); everything else is Django.
from certificates.revocation.wsgi import with_ocsp_fast_path  # noqa: E402 - needs the apps loaded above

application = with_ocsp_fast_path(application)
